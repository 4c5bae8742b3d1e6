/** The REST calls the pages make, typed; session-authenticated with Django's CSRF header. */
import { csrfToken } from './lib/cookies';
import type { Cell } from './protocol';

export interface NotebookSummary {
  id: number;
  title: string;
  owner: string;
  updated_at: string;
}

export interface NotebookList {
  results: NotebookSummary[];
  count: number;
}

export interface NotebookDetail {
  id: number;
  title: string;
  revision: number;
  cells: Cell[];
  config: Record<string, unknown>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

async function request<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (!SAFE_METHODS.has(method)) headers['X-CSRFToken'] = csrfToken();
  const response = await fetch(url, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? null : JSON.stringify(body),
  });
  if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
  return (await response.json()) as T;
}

/** DRF puts its reason in "detail"; fall back to the status line. */
async function errorMessage(response: Response): Promise<string> {
  try {
    const data: unknown = await response.json();
    if (typeof data === 'object' && data !== null && 'detail' in data && typeof data.detail === 'string') {
      return data.detail;
    }
  } catch {
    // Not JSON: the status says enough.
  }
  return `${response.status} ${response.statusText}`.trim();
}

export const api = {
  listNotebooks: () => request<NotebookList>('GET', '/api/notebooks/'),
  createNotebook: (title: string) => request<NotebookSummary>('POST', '/api/notebooks/', { title }),
  getNotebook: (id: number) => request<NotebookDetail>('GET', `/api/notebooks/${id}/`),
};
