// The state of a next edit suggestion (`rill/nextEditAvailable`) in the editor: which offer is known,
// whether its marker or its preview is on screen, and which inline completion requests it answers. Pure
// (no `vscode` import) so the unit tests run it with plain Node; nextEdit.ts draws what it decides.
//
// The life of an offer: the server announces it for one document version; it is shown only when that is
// the active editor's document at that version, as a marker after its line. Tab jumps there and the edit
// (`rill/nextEdit`) is previewed in place; Tab again accepts it. Esc turns it down; any edit, another
// editor, or the cursor leaving the previewed line ends it (the server withdraws it on any edit anyway).

import type { NextEditAvailableParams, NextEditResult, WireRange, WireTextEdit } from './protocol';

/** What the marker says, after the end of the target line. */
export const MARKER_TEXT = '⇥ Tab to jump: rill next edit';
/** What the preview says after the end of its line. */
export const PREVIEW_HINT = '⇥ Tab to accept, Esc to dismiss';

/** A document as the editor has it: its URI (the editor's spelling) and version. */
export interface DocumentVersion {
  uri: string;
  version: number;
}

export interface Offer {
  uri: string;
  version: number;
  range: WireRange;
}

/** Nothing on screen, the marker, waiting for the edit after a jump, or the edit's preview. */
export type Phase = 'none' | 'marker' | 'jumped' | 'preview';

export class NextEditOffers {
  private current: Offer | undefined;
  private edit: WireTextEdit | undefined;
  private state: Phase = 'none';

  /** The offer known for the active document, whatever is on screen. */
  get offer(): Offer | undefined {
    return this.current;
  }

  get phase(): Phase {
    return this.state;
  }

  /** Whether the marker is on screen (the `rill.nextEditVisible` context key). */
  get visible(): boolean {
    return this.state === 'marker';
  }

  /** The edit previewed in place (the `rill.nextEditPreviewVisible` context key), if any. */
  get preview(): WireTextEdit | undefined {
    return this.state === 'preview' ? this.edit : undefined;
  }

  /**
   * Handles `rill/nextEditAvailable`. `active` is the active editor's document; `normalizeUri` makes the
   * server's spelling of the URI comparable with the editor's. Returns the offer when its marker should
   * be shown (for the active document at its current version), else undefined and nothing changes: an
   * offer for an older version or another document is stale or out of sight.
   */
  onAvailable(
    params: NextEditAvailableParams,
    active: DocumentVersion | undefined,
    normalizeUri: (uri: string) => string = (uri) => uri,
  ): Offer | undefined {
    if (active === undefined || !isRange(params.range)) {
      return undefined;
    }
    if (normalizeUri(params.uri) !== active.uri || params.version !== active.version) {
      return undefined;
    }
    this.current = { uri: active.uri, version: active.version, range: params.range };
    this.edit = undefined;
    this.state = 'marker';
    return this.current;
  }

  /**
   * Tab on the marker: returns the offer to jump to (its range's start) and hides the marker. The offer
   * stays known until its edit arrives for the preview.
   */
  jump(active: DocumentVersion | undefined): Offer | undefined {
    const offer = this.matching(active);
    if (offer === undefined || this.state !== 'marker') {
      return undefined;
    }
    this.state = 'jumped';
    return offer;
  }

  /**
   * The answer to `rill/nextEdit` after a jump, for `document` as it is now. Returns the edit to preview,
   * or undefined (and forgets the offer) when there is none for this version: the server withdrew it,
   * the document moved on, or the user did something else meanwhile.
   */
  onEdit(
    result: NextEditResult | null | undefined,
    document: DocumentVersion | undefined,
  ): WireTextEdit | undefined {
    const offer = this.matching(document);
    const edit = result?.edits?.[0];
    if (
      offer === undefined ||
      this.state !== 'jumped' ||
      result?.version !== offer.version ||
      edit === undefined ||
      !isRange(edit.range) ||
      typeof edit.newText !== 'string'
    ) {
      if (this.state === 'jumped') {
        this.clear();
      }
      return undefined;
    }
    this.edit = edit;
    this.state = 'preview';
    return edit;
  }

  /** Tab on the preview: returns the edit to apply to `document` and forgets the offer. */
  accept(document: DocumentVersion | undefined): WireTextEdit | undefined {
    const edit = this.matching(document) !== undefined ? this.preview : undefined;
    if (edit !== undefined) {
      this.clear();
    }
    return edit;
  }

  /** Esc on the marker or the preview: returns the offer turned down (the server must hear of it). */
  dismiss(): Offer | undefined {
    const offer = this.state === 'none' ? undefined : this.current;
    this.clear();
    return offer;
  }

  /**
   * The document `uri` changed: the server has withdrawn its offer, so whatever is shown goes.
   * Returns true when something was cleared.
   */
  onDocumentChanged(uri: string): boolean {
    if (this.current === undefined || this.current.uri !== uri) {
      return false;
    }
    this.clear();
    return true;
  }

  /** Another editor (or none) became active: what is shown belongs to the one left. */
  onActiveChanged(uri: string | undefined): boolean {
    if (this.current === undefined || this.current.uri === uri) {
      return false;
    }
    this.clear();
    return true;
  }

  /**
   * The cursor moved to `line` of `uri`: a preview stays only while the cursor is on its line, where Tab
   * means "accept" (the jump put it there). The marker stays wherever the cursor goes.
   */
  onCursor(uri: string, line: number): boolean {
    const edit = this.preview;
    if (edit === undefined || this.current?.uri !== uri || edit.range.start.line === line) {
      return false;
    }
    this.clear();
    return true;
  }

  /**
   * Whether an inline completion request at `line` of `document` would be answered with the offer's item
   * (a range replacing text): the preview shows that edit instead.
   */
  servesInline(document: DocumentVersion, line: number): boolean {
    const offer = this.matching(document);
    return offer !== undefined && offer.range.start.line === line;
  }

  /** Forgets the offer, e.g. when the server stops. */
  clear(): void {
    this.current = undefined;
    this.edit = undefined;
    this.state = 'none';
  }

  private matching(document: DocumentVersion | undefined): Offer | undefined {
    const offer = this.current;
    if (offer === undefined || document === undefined) {
      return undefined;
    }
    return offer.uri === document.uri && offer.version === document.version ? offer : undefined;
  }
}

/**
 * The new text as it fits in one line of a decoration (which cannot break lines): line breaks as `⏎`,
 * and `∅` for a deletion so that the preview never shows nothing.
 */
export function previewText(newText: string): string {
  if (newText === '') {
    return '∅';
  }
  return newText.replace(/\r\n|\r|\n/g, '⏎');
}

function isPosition(value: unknown): boolean {
  const position = value as { line?: unknown; character?: unknown } | undefined;
  return (
    typeof position === 'object' &&
    position !== null &&
    Number.isInteger(position.line) &&
    Number.isInteger(position.character) &&
    (position.line as number) >= 0 &&
    (position.character as number) >= 0
  );
}

/** A range the editor can use; a malformed one from the wire must not throw later. */
function isRange(value: unknown): value is WireRange {
  const range = value as { start?: unknown; end?: unknown } | undefined;
  return typeof range === 'object' && range !== null && isPosition(range.start) && isPosition(range.end);
}
