/** The profile page: who you are, your API tokens (a new key is shown once), your quota limits and use, and your
 * re-runs and scheduled runs across notebooks. */
import { type ApiToken, type Listed, type Me, type QuotaReport, api, itemsOf } from '../api';
import { h } from '../lib/dom';
import { type RunsApi, runsApi } from '../runsApi';

export interface ProfileApi {
  me(): Promise<Me>;
  quota(): Promise<QuotaReport>;
  listTokens(): Promise<Listed<ApiToken>>;
  createToken(name: string): Promise<ApiToken>;
  deleteToken(id: number): Promise<void>;
}

/** The unit a quota key's suffix names (the server's naming: memory_mb, cpu_seconds, cell_time_limit_s, …). */
type QuotaUnit = 'bytes' | 'mb' | 'seconds' | 'count';

function unitOf(key: string): QuotaUnit {
  if (/_bytes$/.test(key)) return 'bytes';
  if (/_mb$/.test(key)) return 'mb';
  if (/_(s|seconds)$/.test(key)) return 'seconds';
  return 'count';
}

/** "max_kernels" → "Kernels", "cell_time_limit_s" → "Cell time limit": the unit goes with the value instead. */
export function quotaLabel(key: string): string {
  const words = key.replace(/_(bytes|mb|gb|s|seconds)$/i, '').replace(/^max_/, '').replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function bytes(value: number): string {
  const gib = value / 2 ** 30;
  return gib >= 1 ? `${Number(gib.toFixed(1))} GiB` : `${Math.round(value / 2 ** 20)} MiB`;
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Number((seconds / 60).toFixed(1))} min`;
  return `${Number((seconds / 3600).toFixed(1))} h`;
}

/** A quota value with its unit: 2048 (memory_mb) → "2 GiB", 600 (cell_time_limit_s) → "10 min", true → "yes". */
export function quotaValue(key: string, value: number | boolean | null | undefined): string {
  if (value === null || value === undefined) return 'unlimited';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  switch (unitOf(key)) {
    case 'bytes':
      return bytes(value);
    case 'mb':
      return bytes(value * 2 ** 20);
    case 'seconds':
      return duration(value);
    default:
      return String(value);
  }
}

/** The usage figure a limit bounds: "max_kernels" bounds "kernels". */
function usageFor(limit: string, usage: Record<string, number>): string | undefined {
  const bare = limit.replace(/^max_/, '');
  return Object.keys(usage).find((key) => key === limit || key === bare);
}

export class ProfilePage {
  readonly element: HTMLElement;
  private readonly who = h('p', { className: 'muted', testId: 'profile-user' });
  private readonly quotaTable = h('tbody', { testId: 'quota-rows' });
  private readonly tokenList = h('ul', { className: 'token-list', testId: 'token-list' });
  private readonly tokenName = h('input', { testId: 'token-name', attrs: { type: 'text', placeholder: 'Token name, e.g. "CI"', 'aria-label': 'Token name', maxlength: '100' } });
  private readonly newKey = h('div', { className: 'new-key', testId: 'new-token-key', attrs: { role: 'status' } });
  private readonly error = h('p', { className: 'form-error', attrs: { role: 'alert' } });
  private readonly runList = h('ul', { className: 'run-list', testId: 'my-runs' });
  private readonly jobList = h('ul', { className: 'run-list', testId: 'my-jobs' });
  private readonly api: ProfileApi;
  private readonly runsApi: Pick<RunsApi, 'listMyRuns' | 'listMyJobs'>;

  constructor(options: { api?: ProfileApi; runsApi?: Pick<RunsApi, 'listMyRuns' | 'listMyJobs'> } = {}) {
    this.api = options.api ?? api;
    this.runsApi = options.runsApi ?? runsApi;
    this.newKey.hidden = true;
    this.error.hidden = true;
    const form = h('form', { className: 'new-token' }, this.tokenName, h('button', { className: 'button primary', testId: 'create-token', text: 'Create token', attrs: { type: 'submit' } }));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.createToken();
    });
    this.element = h(
      'main',
      { className: 'profile-page' },
      h('h1', { text: 'Profile' }),
      this.who,
      h('section', { className: 'panel' }, h('h2', { text: 'Quota' }), h('table', { className: 'quota-table' }, h('thead', {}, h('tr', {}, h('th', { text: 'Resource' }), h('th', { text: 'In use' }), h('th', { text: 'Limit' }))), this.quotaTable)),
      h(
        'section',
        { className: 'panel' },
        h('h2', { text: 'API tokens' }),
        h('p', { className: 'muted', text: 'Tokens let scripts use the API as you (Authorization: Token <key>).' }),
        form,
        this.newKey,
        this.error,
        this.tokenList,
      ),
      h('section', { className: 'panel' }, h('h2', { text: 'Your re-runs' }), this.runList, h('h2', { text: 'Your scheduled runs' }), this.jobList),
    );
  }

  async load(): Promise<void> {
    await Promise.all([this.loadMe(), this.loadQuota(), this.loadTokens(), this.loadRuns()]);
  }

  private async loadRuns(): Promise<void> {
    const link = (id: number, title: string) => h('a', { text: title, attrs: { href: `/notebooks/${id}/` } });
    try {
      const [runPage, jobPage] = await Promise.all([this.runsApi.listMyRuns(), this.runsApi.listMyJobs()]);
      const [runs, jobs] = [itemsOf(runPage), itemsOf(jobPage)];
      this.runList.replaceChildren(
        ...(runs.length === 0
          ? [h('li', { className: 'muted', text: 'No re-runs.' })]
          : runs.map((run) => {
              const summary = run.summary ? ` · ${run.summary.reproduced} reproduced, ${run.summary.differs} differ, ${run.summary.failed} failed` : '';
              return h('li', { testId: 'my-run', dataset: { state: run.state } }, h('span', {}, link(run.notebook_id, run.notebook_title), ` v${run.version} · ${run.state}${summary}`));
            })),
      );
      this.jobList.replaceChildren(
        ...(jobs.length === 0
          ? [h('li', { className: 'muted', text: 'No scheduled runs.' })]
          : jobs.map((job) =>
              h(
                'li',
                { testId: 'my-job' },
                h('span', {}, link(job.notebook_id, job.notebook_title), ` · ${job.cron} · ${job.enabled ? `next ${new Date(job.next_run_at).toLocaleString()}` : 'paused'}`),
                job.last_error ? h('span', { className: 'form-error', text: job.last_error }) : null,
              ),
            )),
      );
    } catch (error) {
      this.runList.replaceChildren(h('li', { className: 'form-error', text: `Could not load your runs: ${(error as Error).message}` }));
    }
  }

  private async loadMe(): Promise<void> {
    try {
      const me = await this.api.me();
      this.who.textContent = `Signed in as ${me.username}${me.is_site_admin ? ' (site admin)' : ''}.`;
    } catch (error) {
      this.who.textContent = `Could not load your account: ${(error as Error).message}`;
    }
  }

  private async loadQuota(): Promise<void> {
    try {
      const report = await this.api.quota();
      // One row per limit, with what it bounds in use beside it; usage no limit names gets a row of its own.
      const paired = new Set<string>();
      const rows = Object.keys(report.limits).map((key) => {
        const usageKey = usageFor(key, report.usage);
        if (usageKey !== undefined) paired.add(usageKey);
        return this.quotaRow(key, quotaLabel(key), usageKey === undefined ? undefined : quotaValue(usageKey, report.usage[usageKey]), quotaValue(key, report.limits[key]));
      });
      for (const key of Object.keys(report.usage)) {
        if (!paired.has(key)) rows.push(this.quotaRow(key, `${quotaLabel(key)} in use`, quotaValue(key, report.usage[key]), undefined));
      }
      this.quotaTable.replaceChildren(...rows);
    } catch (error) {
      this.quotaTable.replaceChildren(h('tr', {}, h('td', { attrs: { colspan: '3' }, text: `Could not load your quota: ${(error as Error).message}` })));
    }
  }

  private quotaRow(key: string, label: string, used: string | undefined, limit: string | undefined): HTMLElement {
    return h(
      'tr',
      { dataset: { quota: key } },
      h('th', { text: label, attrs: { scope: 'row' } }),
      h('td', { text: used ?? '—' }),
      h('td', { text: limit ?? '—' }),
    );
  }

  private async loadTokens(): Promise<void> {
    try {
      const tokens = itemsOf(await this.api.listTokens());
      this.tokenList.replaceChildren(
        ...(tokens.length === 0
          ? [h('li', { className: 'muted', text: 'No tokens.' })]
          : tokens.map((token) => {
              const revoke = h('button', { className: 'button small danger', testId: 'delete-token', text: 'Revoke', attrs: { type: 'button' } });
              revoke.addEventListener('click', () => void this.deleteToken(token));
              return h(
                'li',
                { className: 'token', testId: 'token' },
                h('strong', { text: token.name }),
                token.prefix && h('code', { text: `${token.prefix}…` }),
                h('span', { className: 'muted', text: token.last_used_at ? `last used ${new Date(token.last_used_at).toLocaleString()}` : 'never used' }),
                revoke,
              );
            })),
      );
    } catch (error) {
      this.tokenList.replaceChildren(h('li', { className: 'form-error', text: `Could not load your tokens: ${(error as Error).message}` }));
    }
  }

  private async createToken(): Promise<void> {
    const name = this.tokenName.value.trim();
    if (!name) return;
    this.error.hidden = true;
    try {
      const token = await this.api.createToken(name);
      this.tokenName.value = '';
      this.newKey.replaceChildren(
        h('p', { text: 'Copy this key now: it will not be shown again.' }),
        h('code', { className: 'token-key', text: token.key ?? '' }),
      );
      this.newKey.hidden = false;
      await this.loadTokens();
    } catch (error) {
      this.error.textContent = `Could not create the token: ${(error as Error).message}`;
      this.error.hidden = false;
    }
  }

  private async deleteToken(token: ApiToken): Promise<void> {
    try {
      await this.api.deleteToken(token.id);
    } catch (error) {
      this.error.textContent = `Could not revoke the token: ${(error as Error).message}`;
      this.error.hidden = false;
    }
    await this.loadTokens();
  }
}
