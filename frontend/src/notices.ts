/** What a notice is: its colour and how a screen reader announces it. */
export type NoticeKind = 'error' | 'warning' | 'info' | 'success';

/** A server notice's level as a kind; an unknown level is shown as a warning rather than dropped. */
export function noticeKind(level: string): NoticeKind {
  return level === 'error' || level === 'info' || level === 'success' ? level : 'warning';
}
