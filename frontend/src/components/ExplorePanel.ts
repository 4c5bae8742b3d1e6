/** The Explore drawer: a value's inspector above its table view or plot constructor. */
import { h } from '../lib/dom';
import type { Explorer, Inspection } from '../explore';
import { DataTable, type Download } from './DataTable';
import { Drawer } from './Drawer';
import { InspectorView } from './Inspector';
import { PlotConstructor } from './PlotConstructor';

export type ExploreView = 'inspect' | 'table' | 'plot';

export interface ExploreHooks {
  /** Inserts a Vega cell below `cellId`; absent for those who may not edit the notebook. */
  saveAsCell?: (cellId: string, source: string) => void;
  download?: Download;
}

export class ExplorePanel {
  readonly drawer = new Drawer('Explore', 'explore-panel');
  private readonly title = h('h3', { testId: 'explore-title' });
  private readonly inspector = h('div', { className: 'explore-inspector' });
  private readonly view = h('div', { className: 'explore-view' });
  private readonly problem = h('p', { className: 'table-problem', testId: 'explore-problem', attrs: { role: 'alert' } });

  constructor(private readonly hooks: () => ExploreHooks) {
    this.drawer.element.classList.add('explore-drawer');
    this.drawer.body.append(this.title, this.problem, this.inspector, this.view);
  }

  /** The inspector's buttons, opening the table view or the plot constructor here. */
  actions(explorer: Explorer, inspection: Inspection, cellId: string): { tableView: () => void; plot?: () => void } {
    return {
      tableView: () => this.show(explorer, cellId, 'table', inspection),
      plot: inspection.symbol ? () => this.show(explorer, cellId, 'plot', inspection) : undefined,
    };
  }

  /** Opens the drawer on a value: its inspection (asked of the kernel unless given) and the chosen view. */
  async show(explorer: Explorer, cellId: string, view: ExploreView, known?: Inspection): Promise<void> {
    this.drawer.open();
    this.title.textContent = explorer.label;
    this.problem.textContent = '';
    let inspection = known;
    if (!inspection) {
      this.inspector.replaceChildren(h('p', { className: 'muted', text: 'inspecting…' }));
      this.view.replaceChildren();
      const reply = await explorer.inspect();
      if (!reply.ok) {
        this.inspector.replaceChildren();
        this.problem.textContent = reply.message;
        return;
      }
      inspection = reply.value;
    }
    this.inspector.replaceChildren(InspectorView(explorer, inspection, this.actions(explorer, inspection, cellId)));
    if (view === 'table' && inspection.kind === 'table') {
      this.view.replaceChildren(DataTable(explorer, { download: this.hooks().download }));
    } else if (view === 'plot' && inspection.kind === 'table' && inspection.symbol) {
      const save = this.hooks().saveAsCell;
      this.view.replaceChildren(
        PlotConstructor(explorer, inspection.symbol, inspection.schema, {
          saveAsCell: save ? (source) => save(cellId, source) : undefined,
        }),
      );
    } else {
      this.view.replaceChildren();
    }
  }
}
