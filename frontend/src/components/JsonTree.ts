/** An application/json output as a tree whose objects and arrays fold open and shut (top levels open). */
import { h } from '../lib/dom';

// Levels shown open at first; deeper ones start folded so a large document stays readable.
const OPEN_LEVELS = 2;

function scalar(value: unknown): HTMLElement {
  if (typeof value === 'string') return h('span', { className: 'json-string', text: JSON.stringify(value) });
  if (typeof value === 'number') return h('span', { className: 'json-number', text: String(value) });
  if (typeof value === 'boolean') return h('span', { className: 'json-boolean', text: String(value) });
  return h('span', { className: 'json-null', text: 'null' });
}

function node(key: string | null, value: unknown, depth: number): HTMLElement {
  const label = key === null ? null : h('span', { className: 'json-key', text: `${JSON.stringify(key)}: ` });
  if (value === null || typeof value !== 'object') return h('div', { className: 'json-entry' }, label, scalar(value));
  const isArray = Array.isArray(value);
  const entries: [string, unknown][] = isArray
    ? (value as unknown[]).map((item, index) => [String(index), item])
    : Object.entries(value as Record<string, unknown>);
  const [open, close] = isArray ? ['[', ']'] : ['{', '}'];
  const size = `${entries.length} ${isArray ? 'item' : 'key'}${entries.length === 1 ? '' : 's'}`;
  if (entries.length === 0) return h('div', { className: 'json-entry' }, label, `${open}${close}`);
  const details = h(
    'details',
    {},
    h('summary', {}, label, `${open} `, h('span', { className: 'muted', text: size }), ` ${close}`),
    ...entries.map(([k, v]) => node(isArray ? null : k, v, depth + 1)),
  );
  details.open = depth < OPEN_LEVELS;
  return details;
}

export function JsonTree(value: unknown): HTMLElement {
  return h('div', { className: 'output-json', testId: 'json-tree' }, node(null, value, 0));
}
