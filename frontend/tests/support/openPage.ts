/**
 * A notebook page as the page tests open one: notebook 7, its REST detail at hand, its live connection a fake
 * socket that has opened and sent `snapshot` (alice's, with any overrides; null: the socket has not even opened).
 * `closeOpenedPages` disposes of every page opened so, and empties the document.
 */
import type { NotebookDetail } from '../../src/api';
import { NotebookPage, type NotebookPageOptions } from '../../src/components/NotebookPage';
import { NotebookClient, type SnapshotMessage } from '../../src/protocol';
import { type FakeWebSocket, fakeSockets } from './FakeWebSocket';
import { aliceSnapshot, cell } from './scenarios';

export const REST_NOTEBOOK: NotebookDetail = { id: 7, title: 'Sales', revision: 3, cells: [cell('c1', 'x = 1')], config: {} };

export interface OpenedPage {
  page: NotebookPage;
  socket: FakeWebSocket;
  sockets: ReturnType<typeof fakeSockets>;
}

const opened: NotebookPage[] = [];

export async function openPage(
  snapshot: Partial<SnapshotMessage> | null = {},
  options: Partial<NotebookPageOptions> = {},
): Promise<OpenedPage> {
  const sockets = fakeSockets();
  const client = new NotebookClient({ url: 'ws://quire.test/ws/notebooks/7/', createSocket: sockets.create, random: () => 0 });
  const page = new NotebookPage({ notebookId: 7, client, loadNotebook: () => Promise.resolve(REST_NOTEBOOK), ...options });
  opened.push(page);
  document.body.append(page.element);
  page.start();
  const socket = sockets.latest();
  if (snapshot === null) return { page, socket, sockets };
  socket.serverOpens();
  socket.serverSends(aliceSnapshot(snapshot));
  await Promise.resolve();
  return { page, socket, sockets };
}

export function closeOpenedPages(): void {
  for (const page of opened.splice(0)) page.dispose();
  document.body.replaceChildren();
}
