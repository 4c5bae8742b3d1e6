/**
 * nbformat outputs as the page reads them: what the server's `output`, `cell_sync`, `cell_status` and snapshot
 * cells carry (the server keeps them as nbformat dicts; kernels/messages.py names these types for the generator).
 */

/** A MIME bundle; nbformat allows a text value to arrive split into a list of lines. */
export type MimeBundle = Record<string, unknown>;

/** Set on an output the server sent only the head of: its index among the cell's outputs (what its pages are read
 * by) and, once the run is stored, its full size in characters (and lines, for text). */
export interface OutputMore {
  n: number;
  chars?: number;
  lines?: number;
}

export interface StreamOutput {
  output_type: 'stream';
  name: 'stdout' | 'stderr';
  text: string;
  more?: OutputMore;
}

export interface DisplayDataOutput {
  output_type: 'display_data';
  data: MimeBundle;
  metadata: Record<string, unknown>;
  more?: OutputMore;
}

export interface ExecuteResultOutput {
  output_type: 'execute_result';
  data: MimeBundle;
  metadata: Record<string, unknown>;
  execution_count?: number | null;
  more?: OutputMore;
}

export interface ErrorPosition {
  line: number;
  column: number;
  end_line: number;
  end_column: number;
  message: string;
}

export interface ErrorOutput {
  output_type: 'error';
  ename: string;
  evalue: string;
  traceback: string[];
  positions?: ErrorPosition[];
  more?: OutputMore;
}

export type Output = StreamOutput | DisplayDataOutput | ExecuteResultOutput | ErrorOutput;

/** A display_data output may carry the id its later updates name (IPython's display_id). */
export interface Transient {
  transient?: { display_id?: string };
}

/** Replaces the data of the outputs shown under `transient.display_id` (the kernel's update_display_data). */
export interface UpdateDisplayData extends Transient {
  output_type: 'update_display_data';
  data: MimeBundle;
  metadata?: Record<string, unknown>;
}

/** Empties the cell's outputs so far (clear_output; the kernel sends it when a wait=True clear takes effect). */
export interface ClearOutput {
  output_type: 'clear_output';
  wait?: boolean;
}

/** What a live `output` message carries: a new output, or a change to those shown (never stored as such). */
export type OutputChange = Output | UpdateDisplayData | ClearOutput;
