// The state of a next edit suggestion (`rill/nextEditAvailable`) in the editor: which offer is known,
// whether its marker is on screen, and which inline completion requests it answers. Pure (no `vscode`
// import) so the unit tests run it with plain Node; nextEdit.ts draws what it decides.
//
// The life of an offer: the server announces it for one document version; it is shown only when that is
// the active editor's document at that version. Tab jumps to it (the marker goes, the offer stays so the
// inline request there is answered with its range); Esc turns it down; any edit or another editor ends
// it, as the server withdraws it on any edit anyway.

import type { NextEditAvailableParams, WireRange } from './protocol';

/** What the marker says, after the end of the target line. */
export const MARKER_TEXT = '⇥ Tab to jump: rill next edit';

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

export class NextEditOffers {
  private current: Offer | undefined;
  private markerShown = false;

  /** The offer known for the active document, marker shown or not. */
  get offer(): Offer | undefined {
    return this.current;
  }

  /** Whether the marker is on screen (the `rill.nextEditVisible` context key). */
  get visible(): boolean {
    return this.markerShown;
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
    this.markerShown = true;
    return this.current;
  }

  /**
   * The document `uri` changed: the server has withdrawn its offer, so the marker and the offer go.
   * Returns true when something was cleared.
   */
  onEdit(uri: string): boolean {
    if (this.current === undefined || this.current.uri !== uri) {
      return false;
    }
    this.clear();
    return true;
  }

  /** Another editor (or none) became active: the marker belongs to the one left. */
  onActiveChanged(uri: string | undefined): boolean {
    if (this.current === undefined || this.current.uri === uri) {
      return false;
    }
    this.clear();
    return true;
  }

  /**
   * Tab on the marker: returns the offer to jump to (its range's start) and hides the marker. The offer
   * stays known, so that the inline request at the target is answered with the replacing item.
   */
  jump(active: DocumentVersion | undefined): Offer | undefined {
    const offer = this.matching(active);
    if (offer === undefined || !this.markerShown) {
      return undefined;
    }
    this.markerShown = false;
    return offer;
  }

  /** Esc on the marker: returns the offer turned down (the server must hear of it) and forgets it. */
  dismiss(): Offer | undefined {
    const offer = this.current;
    this.clear();
    return offer;
  }

  /**
   * Whether an inline completion request at `line` of `document` gets the offer's item from the server,
   * an item whose range replaces text rather than an insertion at the cursor.
   */
  servesInline(document: DocumentVersion, line: number): boolean {
    const offer = this.matching(document);
    return offer !== undefined && offer.range.start.line === line;
  }

  /** Forgets the offer, e.g. when the server stops. */
  clear(): void {
    this.current = undefined;
    this.markerShown = false;
  }

  private matching(document: DocumentVersion | undefined): Offer | undefined {
    const offer = this.current;
    if (offer === undefined || document === undefined) {
      return undefined;
    }
    return offer.uri === document.uri && offer.version === document.version ? offer : undefined;
  }
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
