/**
 * Scheduled re-runs of the notebook in the history panel: each job's cron (UTC), version (or the latest),
 * parameters, next time and last error; editors add, pause, resume and delete them.
 */
import { h } from '../lib/dom';
import type { NoticeKind } from '../notices';
import { itemsOf } from '../api';
import { type Job, type RunsApi, runsApi } from '../runsApi';

export interface JobsSectionOptions {
  notebookId: number;
  api?: RunsApi;
  canEdit: () => boolean;
  notify: (text: string, kind?: NoticeKind) => void;
}

/** "n=2, name=x" as the run's parameters ("name=value" strings, parsed by the server as the command line's). */
export function parameterItems(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

export class JobsSection {
  readonly element = h('div', { className: 'jobs-section', testId: 'jobs-section' });
  private readonly list = h('ul', { className: 'run-list', testId: 'job-list' });
  private readonly cron = h('input', { testId: 'job-cron', attrs: { type: 'text', placeholder: '0 6 * * *', 'aria-label': 'Cron schedule (UTC)', maxlength: '100' } });
  private readonly version = h('select', { testId: 'job-version', attrs: { 'aria-label': 'Version to run' } });
  private readonly parameters = h('input', { testId: 'job-parameters', attrs: { type: 'text', placeholder: 'n=2, name=x', 'aria-label': 'Parameters' } });
  private readonly add = h('button', { className: 'button', testId: 'add-job', text: 'Schedule', attrs: { type: 'submit' } });
  private readonly form: HTMLFormElement;
  private readonly api: RunsApi;

  constructor(private readonly options: JobsSectionOptions) {
    this.api = options.api ?? runsApi;
    this.form = h('form', { className: 'job-form' }, this.cron, this.version, this.parameters, this.add);
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.create();
    });
    this.element.append(this.list, this.form);
  }

  async refresh(versions: number[]): Promise<void> {
    this.form.hidden = !this.options.canEdit();
    this.version.replaceChildren(
      h('option', { text: 'latest version', attrs: { value: '' } }),
      ...versions.map((n) => h('option', { text: `v${n}`, attrs: { value: String(n) } })),
    );
    try {
      this.render(itemsOf(await this.api.listJobs(this.options.notebookId)));
    } catch (error) {
      this.list.replaceChildren(h('li', { className: 'form-error', text: `Could not load the schedules: ${(error as Error).message}` }));
    }
  }

  private render(jobs: Job[]): void {
    if (jobs.length === 0) {
      this.list.replaceChildren(h('li', { className: 'muted', text: 'No scheduled runs.' }));
      return;
    }
    const canEdit = this.options.canEdit();
    this.list.replaceChildren(
      ...jobs.map((job) => {
        const toggle = this.button(job.enabled ? 'Pause' : 'Resume', 'toggle-job', () => void this.change(() => this.api.updateJob(job.id, { enabled: !job.enabled })));
        const remove = this.button('Delete', 'delete-job', () => void this.change(() => this.api.deleteJob(job.id)));
        toggle.hidden = remove.hidden = !canEdit;
        const params = Object.entries(job.parameters).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ');
        return h(
          'li',
          { testId: 'job', dataset: { jobId: String(job.id), enabled: String(job.enabled) } },
          h(
            'div',
            {},
            h('code', { text: job.cron }),
            h('span', { text: ` · ${job.version === null ? 'latest version' : `v${job.version}`}${params ? ` · ${params}` : ''} · ${job.owner}` }),
            h('div', { className: 'muted', text: job.enabled ? `next ${new Date(job.next_run_at).toLocaleString()}` : 'paused' }),
            job.last_error ? h('div', { className: 'form-error', testId: 'job-error', text: job.last_error }) : null,
          ),
          h('div', {}, toggle, remove),
        );
      }),
    );
  }

  private async create(): Promise<void> {
    this.add.disabled = true;
    try {
      await this.api.createJob(this.options.notebookId, {
        cron: this.cron.value.trim(),
        version: this.version.value === '' ? null : Number(this.version.value),
        parameters: parameterItems(this.parameters.value),
      });
      this.options.notify('Scheduled.', 'success');
      this.cron.value = '';
      this.parameters.value = '';
      this.render(itemsOf(await this.api.listJobs(this.options.notebookId)));
    } catch (error) {
      this.options.notify(`Could not schedule: ${(error as Error).message}`);
    } finally {
      this.add.disabled = false;
    }
  }

  private async change(action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
      this.render(itemsOf(await this.api.listJobs(this.options.notebookId)));
    } catch (error) {
      this.options.notify(`Could not change the schedule: ${(error as Error).message}`);
    }
  }

  private button(text: string, testId: string, onClick: () => void): HTMLButtonElement {
    const button = h('button', { className: 'button small subtle', testId, text, attrs: { type: 'button' } });
    button.addEventListener('click', onClick);
    return button;
  }
}
