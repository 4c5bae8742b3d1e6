/** A running cell's question (input(), getpass()): a field for the person who ran it, who is asked for everyone else. */
import { h } from '../lib/dom';
import type { PendingInput, RequestOutcome, SentRequest } from '../protocol';

/** Sends the answer to the question of run `execId`. */
export type AnswerInput = (execId: string, value: string) => SentRequest;

export class InputPrompt {
  readonly element = h('div', { className: 'input-prompt', testId: 'input-prompt', attrs: { role: 'group' } });
  private readonly text = h('label', { className: 'input-prompt-text', testId: 'input-prompt-text' });
  private readonly field = h('input', {
    className: 'input-field',
    testId: 'input-field',
    attrs: { type: 'text', autocomplete: 'off', spellcheck: 'false' },
  });
  private readonly note = h('span', { className: 'input-prompt-note muted', testId: 'input-note', attrs: { role: 'status' } });
  private pending: PendingInput | null = null;
  private mine = false;
  /** The run whose question this field's answer went to, until the server says it is over. */
  private sentFor: string | null = null;

  constructor(private readonly answer: AnswerInput | undefined) {
    const id = `input-${Math.random().toString(36).slice(2)}`;
    this.field.id = id;
    this.text.htmlFor = id;
    this.element.append(this.text, this.field, this.note);
    this.element.hidden = true;
    this.field.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter') return;
      event.preventDefault();
      event.stopPropagation(); // Enter here answers the cell; it is no command to the notebook
      this.send();
    });
  }

  /** Shows `pending` (nothing when null); `mine` when this person ran the cell and may still run code here. */
  render(pending: PendingInput | null, mine: boolean): void {
    const fresh = pending?.exec_id !== this.pending?.exec_id;
    const becameMine = mine && !this.mine;
    this.pending = pending;
    this.mine = mine;
    this.element.hidden = pending === null;
    if (pending === null) {
      this.sentFor = null;
      this.field.value = '';
      return;
    }
    if (fresh) {
      this.sentFor = null;
      this.field.value = '';
      this.note.textContent = '';
    }
    this.text.textContent = pending.prompt;
    this.field.type = pending.password ? 'password' : 'text';
    this.field.hidden = !mine;
    this.field.disabled = !mine || this.sentFor === pending.exec_id || !this.answer;
    if (!mine) this.note.textContent = `waiting for ${pending.username} to answer`;
    else if (fresh || becameMine) {
      if (!fresh) this.note.textContent = '';
      // Asked right after running: the answer is typed here next, as in a terminal.
      queueMicrotask(() => {
        if (this.element.isConnected && !this.field.disabled) this.field.focus({ preventScroll: true });
      });
    }
  }

  private send(): void {
    const pending = this.pending;
    if (!pending || !this.mine || !this.answer || this.sentFor === pending.exec_id) return;
    const value = this.field.value;
    this.sentFor = pending.exec_id;
    this.field.disabled = true;
    this.note.textContent = 'sent';
    void this.answer(pending.exec_id, value).settled.then((outcome) => this.answered(pending.exec_id, outcome));
  }

  private answered(execId: string, outcome: RequestOutcome): void {
    if (this.pending?.exec_id !== execId || this.sentFor !== execId) return; // over meanwhile
    const problem =
      outcome.type === 'error'
        ? `not sent: ${outcome.message}`
        : outcome.sent === false
          ? 'not sent: no kernel is running to take the answer'
          : '';
    if (!problem) return;
    this.sentFor = null;
    this.note.textContent = problem;
    this.field.disabled = false;
  }
}
