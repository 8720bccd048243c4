// Which suggestions were shown and how much of them the user took, as the figures `rill/stats` counts:
// `rill/didShowCompletion` once per request, and partial accepts (VS Code's accept-next-word / accept-line)
// recognised from the document changes they make. Pure (no `vscode` import) so it is unit-tested directly.
//
// Why partial accepts are guessed from document changes: VS Code runs an item's `command` only when the
// item is accepted whole; the event for a partial accept (`handleDidPartiallyAcceptCompletionItem`) is a
// proposed API that a published extension cannot use. A partial accept shows up as an insertion, at the
// suggestion's position, of the next piece of the shown text. Typing does too, one character at a time,
// so only an insertion of two or more characters counts as an accept; typed characters that match just
// move the expected position on. A one-character word accepted this way is therefore not counted, and
// neither is a piece whose line ends VS Code rewrote (a CRLF document).

import { RequestId } from './protocol';

/** The server remembers the last 512 request ids; a client needs no more to send each show once. */
const REMEMBERED_IDS = 512;

/** A suggestion handed to the editor: its request, where it starts, and the texts it offers. */
export interface ShownSuggestion {
  requestId: RequestId;
  uri: string;
  /** The document offset (UTF-16) the suggestion is inserted at. */
  anchor: number;
  /** The items' texts, the one shown first (the others are what Alt+] cycles to). */
  texts: readonly string[];
}

/** One change of a document, as VS Code reports it (offsets in UTF-16 code units, before the change). */
export interface TextChange {
  rangeOffset: number;
  rangeLength: number;
  text: string;
}

export interface PartialAccept {
  requestId: RequestId;
  /** How much of the suggestion is in the document now, cumulative. */
  acceptedLength: number;
}

interface Tracked {
  requestId: RequestId;
  uri: string;
  anchor: number;
  texts: readonly string[];
  /** How much of the suggestion is already in the document (accepted or typed through). */
  consumed: number;
}

export class AcceptanceModel {
  private readonly reported = new Set<RequestId>();
  private readonly order: RequestId[] = [];
  private tracked: Tracked | undefined;

  /**
   * Records that `suggestion` is on screen. Returns true the first time its request is shown, when
   * `rill/didShowCompletion` is due; the same request served again (a streamed suggestion growing, a
   * redraw) returns false and keeps what was already accepted of it.
   */
  shown(suggestion: ShownSuggestion): boolean {
    const tracked = this.tracked;
    if (tracked !== undefined && continues(tracked, suggestion)) {
      // After a partial accept or typing through, VS Code asks again, but keeps the item it shows
      // while the new answer is only its rest (and runs that item's command on accept): the new
      // request is not what the user sees.
      return false;
    }
    if (
      tracked !== undefined &&
      tracked.requestId === suggestion.requestId &&
      tracked.uri === suggestion.uri &&
      tracked.anchor === suggestion.anchor
    ) {
      tracked.texts = suggestion.texts;
    } else {
      this.tracked = { ...suggestion, consumed: 0 };
    }
    if (this.reported.has(suggestion.requestId)) {
      return false;
    }
    this.reported.add(suggestion.requestId);
    this.order.push(suggestion.requestId);
    if (this.order.length > REMEMBERED_IDS) {
      this.reported.delete(this.order.shift() as RequestId);
    }
    return true;
  }

  /**
   * Looks at a change of document `uri`: returns the partial accept it is, if it is one. Any change that
   * does not continue the suggestion at its position ends the tracking of it.
   */
  onChange(uri: string, changes: readonly TextChange[]): PartialAccept | undefined {
    const tracked = this.tracked;
    if (tracked === undefined || tracked.uri !== uri || changes.length === 0) {
      return undefined;
    }
    const [change] = changes;
    const expected = tracked.anchor + tracked.consumed;
    if (
      changes.length !== 1 ||
      change === undefined ||
      change.rangeLength !== 0 ||
      change.text === '' ||
      change.rangeOffset !== expected
    ) {
      this.tracked = undefined;
      return undefined;
    }
    const consumed = tracked.consumed + change.text.length;
    const matching = tracked.texts.filter((text) => text.startsWith(change.text, tracked.consumed));
    if (matching.length === 0) {
      this.tracked = undefined;
      return undefined;
    }
    if (matching.some((text) => text.length <= consumed)) {
      // The rest of the suggestion went in at once: a full accept, which the item's command reports.
      this.tracked = undefined;
      return undefined;
    }
    tracked.texts = matching;
    tracked.consumed = consumed;
    if (change.text.length < 2) {
      // Most likely typed: VS Code keeps the rest on screen, and the next accept continues from here.
      return undefined;
    }
    return { requestId: tracked.requestId, acceptedLength: consumed };
  }

  /** The item's command ran: the suggestion was taken whole, nothing more is expected of it. */
  accepted(requestId: RequestId): void {
    if (this.tracked?.requestId === requestId) {
      this.tracked = undefined;
    }
  }

  /** Forgets everything: a restarted server numbers its requests from the start again. */
  reset(): void {
    this.reported.clear();
    this.order.length = 0;
    this.tracked = undefined;
  }
}

/** `next` is the rest of `tracked` at the position the accepted or typed part reached. */
function continues(tracked: Tracked, next: ShownSuggestion): boolean {
  const first = next.texts[0];
  return (
    tracked.consumed > 0 &&
    next.requestId !== tracked.requestId &&
    next.uri === tracked.uri &&
    next.anchor === tracked.anchor + tracked.consumed &&
    first !== undefined &&
    first !== '' &&
    tracked.texts.some((text) => text.startsWith(first, tracked.consumed))
  );
}
