/** Entry point: mounts the page Django asked for (body data-page) into #app. */
import './styles.css';
import { TopBar } from './components/TopBar';
import { NotebookList } from './components/NotebookList';
import { NotebookPage } from './components/NotebookPage';
import { ProfilePage } from './components/ProfilePage';
import { createLazyEditor, loadMonaco } from './editor/lazyEditor';
import { h } from './lib/dom';

function mount(): void {
  const { page, notebookId, username = '' } = document.body.dataset;
  const app = document.getElementById('app');
  if (!app) throw new Error('Quire: the page has no #app element');
  app.replaceChildren(TopBar(username));

  if (page === 'notebook-list') {
    const list = new NotebookList();
    app.append(list.element);
    void list.load();
  } else if (page === 'profile') {
    const profile = new ProfilePage();
    app.append(profile.element);
    void profile.load();
  } else if (page === 'notebook' && notebookId && /^\d+$/.test(notebookId)) {
    const notebook = new NotebookPage({ notebookId: Number(notebookId), createEditor: createLazyEditor });
    app.append(notebook.element);
    notebook.start();
    // Cells work as textareas at once; Monaco takes over when its chunk arrives.
    void loadMonaco();
    // Best effort: text typed in the last few hundred milliseconds still goes out.
    window.addEventListener('pagehide', () => notebook.flush());
  } else {
    app.append(h('main', {}, h('p', { text: `Unknown page "${page ?? ''}".` })));
  }
}

mount();
