/** Sharing: who may open the notebook (people and teams) and with which role. */
import { type Grant, type Listed, api, itemsOf } from '../api';
import { h } from '../lib/dom';
import type { Role } from '../protocol';
import { Drawer } from './Drawer';

const ROLES: readonly Role[] = ['viewer', 'runner', 'editor', 'owner'];

export interface ShareApi {
  listGrants(id: number): Promise<Listed<Grant>>;
  addGrant(id: number, who: { user: string } | { team: string }, role: Role): Promise<Grant>;
  changeGrant(id: number, grantId: number, role: Role): Promise<Grant>;
  removeGrant(id: number, grantId: number): Promise<void>;
}

function roleSelect(value: Role, label: string): HTMLSelectElement {
  const select = h('select', { attrs: { 'aria-label': label } }, ...ROLES.map((role) => h('option', { text: role, attrs: { value: role } })));
  select.value = value;
  return select;
}

export class ShareDialog {
  readonly drawer = new Drawer('Share', 'share-dialog');
  private readonly api: ShareApi;
  private readonly list = h('ul', { className: 'grant-list', testId: 'grant-list' });
  private readonly kind = h('select', { testId: 'share-kind', attrs: { 'aria-label': 'Share with' } }, h('option', { text: 'Person', attrs: { value: 'user' } }), h('option', { text: 'Team', attrs: { value: 'team' } }));
  private readonly who = h('input', { testId: 'share-who', attrs: { type: 'text', placeholder: 'username or team slug', 'aria-label': 'Username or team' } });
  private readonly role = roleSelect('viewer', 'Role');
  private readonly error = h('p', { className: 'form-error', attrs: { role: 'alert' } });

  constructor(
    private readonly notebookId: number,
    options: { api?: ShareApi } = {},
  ) {
    this.api = options.api ?? api;
    this.role.dataset.testid = 'share-role';
    this.error.hidden = true;
    const add = h('button', { className: 'button primary', testId: 'share-add', text: 'Share', attrs: { type: 'submit' } });
    const form = h('form', { className: 'share-form' }, this.kind, this.who, this.role, add);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.add();
    });
    this.drawer.body.append(
      form,
      this.error,
      h('p', { className: 'muted', text: 'viewer: read · runner: read and run · editor: change cells · owner: share and delete' }),
      this.list,
    );
    this.drawer.whenOpened(() => void this.refresh());
  }

  get element(): HTMLElement {
    return this.drawer.element;
  }

  async refresh(): Promise<void> {
    try {
      this.render(itemsOf(await this.api.listGrants(this.notebookId)));
    } catch (error) {
      this.showError(`Could not load who has access: ${(error as Error).message}`);
    }
  }

  private render(grants: Grant[]): void {
    if (grants.length === 0) {
      this.list.replaceChildren(h('li', { className: 'muted', text: 'Only you (and team owners) can open this notebook.' }));
      return;
    }
    this.list.replaceChildren(
      ...grants.map((grant) => {
        const select = roleSelect(grant.role, `Role of ${grant.user ?? grant.team ?? ''}`);
        select.addEventListener('change', () => void this.change(grant, select.value as Role));
        const remove = h('button', { className: 'button small subtle', text: 'Remove', attrs: { type: 'button' } });
        remove.addEventListener('click', () => void this.remove(grant));
        return h(
          'li',
          { className: 'grant', testId: 'grant' },
          h('span', { className: 'grant-who', text: grant.user ? grant.user : `team ${grant.team ?? ''}` }),
          select,
          remove,
        );
      }),
    );
  }

  private async add(): Promise<void> {
    const name = this.who.value.trim();
    if (!name) return;
    this.error.hidden = true;
    try {
      const who = this.kind.value === 'team' ? { team: name } : { user: name };
      await this.api.addGrant(this.notebookId, who, this.role.value as Role);
      this.who.value = '';
      await this.refresh();
    } catch (error) {
      this.showError(`Could not share: ${(error as Error).message}`);
    }
  }

  private async change(grant: Grant, role: Role): Promise<void> {
    try {
      await this.api.changeGrant(this.notebookId, grant.id, role);
    } catch (error) {
      this.showError(`Could not change the role: ${(error as Error).message}`);
    }
    await this.refresh();
  }

  private async remove(grant: Grant): Promise<void> {
    try {
      await this.api.removeGrant(this.notebookId, grant.id);
    } catch (error) {
      this.showError(`Could not remove access: ${(error as Error).message}`);
    }
    await this.refresh();
  }

  private showError(text: string): void {
    this.error.textContent = text;
    this.error.hidden = false;
  }
}
