/** The task list: the running cell, queued cells in order, Spark jobs and stages with progress, and a stop button. */
import { h } from '../lib/dom';
import type { SparkProgress } from '../notebookModel';

export interface TaskListState {
  running: string | null;
  queue: readonly string[];
  /** Spark progress by cell, for cells that have any. */
  spark: ReadonlyArray<readonly [cellId: string, progress: SparkProgress]>;
  /** The environments the queue waits for: what each holds, and its build's latest log line. */
  building: ReadonlyArray<{ label: string; progress: string }>;
  /** A short name for a cell ("Cell 3"), as the user sees it. */
  label(cellId: string): string;
  canStop: boolean;
}

export class TaskList {
  readonly element: HTMLElement;
  private readonly body = h('div', { className: 'task-body' });
  private readonly stopButton = h('button', { className: 'button danger', testId: 'task-stop', text: '■ Stop', attrs: { type: 'button', title: 'Interrupt the running cell' } });

  constructor(onStop: () => void, onSelect: (cellId: string) => void) {
    this.stopButton.addEventListener('click', onStop);
    this.body.addEventListener('click', (event) => {
      const target = (event.target as HTMLElement).closest<HTMLElement>('[data-cell-id]');
      if (target?.dataset.cellId) onSelect(target.dataset.cellId);
    });
    this.element = h(
      'section',
      { className: 'panel task-list', testId: 'task-list', attrs: { 'aria-label': 'Tasks' } },
      h('header', { className: 'panel-header' }, h('h2', { text: 'Tasks' }), this.stopButton),
      this.body,
    );
    this.render({ running: null, queue: [], spark: [], building: [], label: (id) => id, canStop: false });
  }

  render(state: TaskListState): void {
    const rows: HTMLElement[] = [];
    for (const build of state.building) {
      rows.push(
        h(
          'div',
          { className: 'task building', testId: 'task-building' },
          h('span', { className: 'task-dot' }),
          h('span', { text: `Building the notebook's ${build.label}; the queue runs once it is built` }),
          build.progress && h('pre', { className: 'task-progress', testId: 'task-building-progress', text: build.progress }),
        ),
      );
    }
    if (state.running) {
      rows.push(h('div', { className: 'task running', testId: 'task-running', dataset: { cellId: state.running } }, h('span', { className: 'task-dot' }), h('span', { text: `${state.label(state.running)} running` })));
    }
    state.queue.forEach((cellId, index) =>
      rows.push(
        h('div', { className: 'task queued', testId: 'task-queued', dataset: { cellId } }, h('span', { className: 'task-place', text: `#${index + 1}` }), h('span', { text: state.label(cellId) })),
      ),
    );
    for (const [cellId, progress] of state.spark) rows.push(SparkJobs(state.label(cellId), progress));
    if (rows.length === 0) rows.push(h('p', { className: 'muted', text: 'Nothing running.' }));
    this.body.replaceChildren(...rows);
    this.stopButton.hidden = !state.canStop || (state.running === null && state.queue.length === 0);
  }
}

function SparkJobs(cellLabel: string, progress: SparkProgress): HTMLElement {
  return h(
    'div',
    { className: 'spark-jobs', testId: 'spark-jobs' },
    h(
      'div',
      { className: 'spark-header' },
      h('span', { text: `Spark · ${cellLabel}` }),
      progress.uiUrl && h('a', { testId: 'spark-ui-link', text: 'Spark UI', attrs: { href: progress.uiUrl, target: '_blank', rel: 'noopener noreferrer' } }),
    ),
    !progress.uiUrl && progress.uiNote ? h('p', { className: 'muted spark-ui-note', testId: 'spark-ui-note', text: progress.uiNote }) : null,
    ...progress.jobs.map((job) =>
      h(
        'div',
        { className: 'spark-job', dataset: { status: job.status } },
        h('div', { className: 'spark-job-title', text: `Job ${job.job_id} · ${job.status}` }),
        ...job.stages.map((stage) => ProgressBar(`Stage ${stage.stage_id}: ${stage.name}`, stage.done, stage.total, stage.failed)),
      ),
    ),
  );
}

export function ProgressBar(label: string, done: number, total: number, failed = 0): HTMLElement {
  const fraction = total > 0 ? Math.min(1, done / total) : 0;
  const bar = h('div', { className: 'progress-fill' });
  bar.style.width = `${Math.round(fraction * 100)}%`;
  return h(
    'div',
    { className: 'progress', attrs: { role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(total), 'aria-valuenow': String(done), 'aria-label': label } },
    h('div', { className: 'progress-label' }, h('span', { text: label }), h('span', { text: `${done}/${total}${failed ? ` (${failed} failed)` : ''}` })),
    h('div', { className: `progress-track${failed ? ' failed' : ''}` }, bar),
  );
}
