/**
 * The plot constructor: a chart type, fields on x / y / colour / size / facet, an aggregation and bins; a live
 * preview drawn from what the kernel aggregated; "Save as cell" inserts a Vega-Lite cell naming the symbol, whose
 * aggregation the kernel runs again each time the cell runs.
 */
import { h } from '../lib/dom';
import type { Explorer, SchemaField } from '../explore';
import { VegaChart } from './VegaChart';

export const CHARTS = ['bar', 'line', 'area', 'point', 'histogram', 'boxplot', 'heatmap'] as const;
export type Chart = (typeof CHARTS)[number];
export const AGGREGATIONS = ['none', 'count', 'sum', 'mean', 'median', 'min', 'max', 'q1', 'q3', 'distinct'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];
const CHANNELS = ['x', 'y', 'color', 'size', 'facet'] as const;
type Channel = (typeof CHANNELS)[number];
// A preview is asked for once choices pause.
const PREVIEW_DELAY_MS = 250;

export interface PlotChoice {
  chart: Chart;
  x?: string;
  y?: string;
  color?: string;
  size?: string;
  facet?: string;
  aggregate: Aggregation;
  /** Bin a numeric or time x (and y for a heatmap). */
  bin: boolean;
  maxbins: number;
  /** The calendar unit times are binned by. */
  timeUnit?: TimeUnit;
}

export const TIME_UNITS = ['yearmonthdate', 'yearmonth', 'yearquarter', 'year', 'yearweek', 'yearmonthdatehours', 'yearmonthdatehoursminutes'] as const;
export type TimeUnit = (typeof TIME_UNITS)[number];

type Spec = Record<string, unknown>;

function fieldType(field: SchemaField | undefined): 'quantitative' | 'temporal' | 'nominal' {
  const type = (field?.type ?? '').toLowerCase();
  if (/date|time/.test(type)) return 'temporal';
  if (/int|float|double|decimal|long|short|byte|number|numeric|real/.test(type) && !field?.children) return 'quantitative';
  return 'nominal';
}

/** The Vega-Lite spec for a choice; its data names the symbol, so the kernel fills (and aggregates) it. */
export function buildSpec(symbol: string, schema: readonly SchemaField[], choice: PlotChoice): Spec {
  const find = (name?: string): SchemaField | undefined => schema.find((f) => f.name === name);
  const plain = (name?: string): Spec | undefined => (name ? { field: name, type: fieldType(find(name)) } : undefined);
  const binned = (name?: string): Spec | undefined => {
    if (!name) return undefined;
    const type = fieldType(find(name));
    if (type === 'quantitative') return { field: name, bin: { maxbins: choice.maxbins }, type };
    if (type === 'temporal') return { field: name, timeUnit: choice.timeUnit ?? 'yearmonthdate', type };
    return { field: name, type };
  };
  const measure = (name?: string): Spec | undefined => {
    if (choice.aggregate === 'none') return plain(name);
    if (choice.aggregate === 'count') return { aggregate: 'count', type: 'quantitative' };
    return name ? { aggregate: choice.aggregate, field: name, type: 'quantitative' } : undefined;
  };
  const encoding: Record<string, Spec | undefined> = {};
  let mark: string = choice.chart;
  if (choice.chart === 'histogram') {
    mark = 'bar';
    encoding.x = binned(choice.x);
    encoding.y = { aggregate: 'count', type: 'quantitative' };
  } else if (choice.chart === 'heatmap') {
    mark = 'rect';
    encoding.x = binned(choice.x);
    encoding.y = binned(choice.y);
    encoding.color = choice.aggregate === 'none' || choice.aggregate === 'count' || !choice.color
      ? { aggregate: 'count', type: 'quantitative' }
      : { aggregate: choice.aggregate, field: choice.color, type: 'quantitative' };
  } else if (choice.chart === 'boxplot') {
    encoding.x = plain(choice.x);
    encoding.y = plain(choice.y);
  } else {
    encoding.x = choice.bin ? binned(choice.x) : plain(choice.x);
    encoding.y = measure(choice.y);
  }
  if (choice.chart !== 'heatmap') encoding.color = plain(choice.color);
  if (choice.chart === 'point') encoding.size = plain(choice.size);
  encoding.facet = choice.facet ? { field: choice.facet, type: 'nominal', columns: 3 } : undefined;
  const spec: Spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    data: { name: symbol },
    mark: { type: mark, tooltip: true },
    encoding: Object.fromEntries(Object.entries(encoding).filter(([, v]) => v !== undefined)),
  };
  return spec;
}

/** Why a choice cannot be drawn yet, or null. */
export function missing(choice: PlotChoice): string | null {
  if (!choice.x) return 'Choose a field for x.';
  if (choice.chart === 'heatmap' && !choice.y) return 'A heatmap needs a field for y.';
  if (choice.chart === 'boxplot' && !choice.y) return 'A box plot needs a numeric field for y.';
  if (!['histogram', 'heatmap', 'boxplot'].includes(choice.chart) && choice.aggregate !== 'count' && !choice.y) {
    return 'Choose a field for y, or count.';
  }
  return null;
}

export function PlotConstructor(
  explorer: Explorer,
  symbol: string,
  schema: readonly SchemaField[],
  options: { saveAsCell?: (source: string) => void } = {},
): HTMLElement {
  const choice: PlotChoice = { chart: 'bar', aggregate: 'count', bin: false, maxbins: 20, x: schema[0]?.name };
  const preview = h('div', { className: 'plot-preview', testId: 'plot-preview' });
  const notes = h('p', { className: 'muted', testId: 'plot-notes' });
  const problem = h('p', { className: 'table-problem', testId: 'plot-problem', attrs: { role: 'alert' } });
  let request = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const select = (label: string, testId: string, values: readonly string[], current: string | undefined, set: (v: string) => void, blank?: string): HTMLElement => {
    const element = h('select', { testId, attrs: { 'aria-label': label } });
    if (blank !== undefined) element.append(h('option', { text: blank, attrs: { value: '' } }));
    for (const value of values) element.append(h('option', { text: value, attrs: { value } }));
    element.value = current ?? '';
    element.addEventListener('change', () => {
      set(element.value);
      schedule();
    });
    return h('label', { className: 'plot-choice' }, h('span', { text: label }), element);
  };
  const names = schema.map((f) => f.name);
  const fieldSelect = (channel: Channel): HTMLElement => {
    const label = select(channel === 'color' ? 'colour' : channel, `plot-${channel}`, names, choice[channel], (v) => (choice[channel] = v || undefined), '—');
    // A field chip dropped here puts that field on this channel, as choosing it would.
    label.classList.add('plot-drop');
    label.dataset.channel = channel;
    label.addEventListener('dragover', (event) => event.preventDefault());
    label.addEventListener('drop', (event) => {
      event.preventDefault();
      const name = event.dataTransfer?.getData('text/plain') ?? '';
      const picker = label.querySelector('select');
      if (!picker || !names.includes(name)) return;
      picker.value = name;
      picker.dispatchEvent(new Event('change'));
    });
    return label;
  };
  const chips = h(
    'div',
    { className: 'plot-fields', attrs: { 'aria-label': 'Fields: drag one onto x, y, colour, size or facet' } },
    ...schema.map((field) => {
      const chip = h('span', { className: 'plot-field', testId: 'plot-field', text: field.name, attrs: { draggable: 'true', title: field.type } });
      chip.addEventListener('dragstart', (event) => event.dataTransfer?.setData('text/plain', field.name));
      return chip;
    }),
  );
  const bin = h('input', { testId: 'plot-bin', attrs: { type: 'checkbox', 'aria-label': 'Bin x' } });
  bin.addEventListener('change', () => {
    choice.bin = bin.checked;
    schedule();
  });
  const maxbins = h('input', { testId: 'plot-maxbins', attrs: { type: 'number', min: '2', max: '200', 'aria-label': 'Bins at most' } });
  maxbins.value = String(choice.maxbins);
  maxbins.addEventListener('change', () => {
    choice.maxbins = Math.max(2, Math.min(200, Number(maxbins.value) || 20));
    schedule();
  });
  const unit = select('time unit', 'plot-time-unit', TIME_UNITS, 'yearmonthdate', (v) => (choice.timeUnit = v as TimeUnit));
  const save = h('button', { className: 'button', testId: 'plot-save', text: 'Save as cell', attrs: { type: 'button' } });
  if (!options.saveAsCell) {
    save.disabled = true;
    save.title = 'Saving a chart adds a cell: it needs the editor role.';
  }
  save.addEventListener('click', () => {
    if (missing(choice) === null) options.saveAsCell?.(JSON.stringify(buildSpec(symbol, schema, choice), null, 2));
  });

  const draw = async (): Promise<void> => {
    const why = missing(choice);
    save.disabled = why !== null || !options.saveAsCell;
    if (why) {
      problem.textContent = why;
      preview.replaceChildren();
      return;
    }
    const mine = ++request;
    problem.textContent = '';
    notes.textContent = 'drawing…';
    const reply = await explorer.plot(buildSpec(symbol, schema, choice));
    if (mine !== request) return;
    if (!reply.ok) {
      notes.textContent = '';
      problem.textContent = reply.message;
      return;
    }
    notes.textContent = reply.value.notes.join(' ');
    preview.replaceChildren(VegaChart(reply.value.spec, 'vega-lite'));
  };
  const schedule = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void draw(), PREVIEW_DELAY_MS);
  };
  const previewButton = h('button', { className: 'button subtle', testId: 'plot-preview-button', text: 'Preview', attrs: { type: 'button' } });
  previewButton.addEventListener('click', () => void draw());
  schedule();

  return h(
    'div',
    { className: 'plot-constructor', testId: 'plot-constructor' },
    chips,
    h(
      'div',
      { className: 'plot-choices' },
      select('chart', 'plot-chart', CHARTS, choice.chart, (v) => (choice.chart = v as Chart)),
      ...CHANNELS.map(fieldSelect),
      select('aggregate', 'plot-aggregate', AGGREGATIONS, choice.aggregate, (v) => (choice.aggregate = v as Aggregation)),
      h('label', { className: 'plot-choice' }, bin, h('span', { text: 'bin x' })),
      h('label', { className: 'plot-choice' }, h('span', { text: 'bins' }), maxbins),
      unit,
    ),
    h('p', {}, previewButton, ' ', save),
    problem,
    notes,
    preview,
  );
}
