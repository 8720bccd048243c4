// The next edit state: which offers are shown, what Tab and Esc do to them, what ends them, which inline
// requests they answer, and how a new text is previewed on one line.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { NextEditOffers, previewText } from '../src/nextEditOffer';
import { NextEditAvailableParams, NextEditResult } from '../src/protocol';

const ACTIVE = { uri: 'file:///p/totals.py', version: 4 };

function available(overrides: Partial<NextEditAvailableParams> = {}): NextEditAvailableParams {
  return {
    uri: ACTIVE.uri,
    version: ACTIVE.version,
    range: { start: { line: 3, character: 8 }, end: { line: 3, character: 13 } },
    ...overrides,
  };
}

test('an offer for the active document at its version shows the marker', () => {
  const offers = new NextEditOffers();
  const offer = offers.onAvailable(available(), ACTIVE);
  assert.deepEqual(offer, { ...ACTIVE, range: available().range });
  assert.equal(offers.visible, true);
});

test('an offer for an older version, another document or no editor is ignored', () => {
  const offers = new NextEditOffers();
  assert.equal(offers.onAvailable(available({ version: 3 }), ACTIVE), undefined);
  assert.equal(offers.onAvailable(available({ uri: 'file:///p/other.py' }), ACTIVE), undefined);
  assert.equal(offers.onAvailable(available(), undefined), undefined);
  assert.equal(offers.visible, false);
  assert.equal(offers.offer, undefined);
});

test("the server's spelling of the URI is compared after normalizing", () => {
  const offers = new NextEditOffers();
  const active = { uri: 'file:///p/a%20b.py', version: 1 };
  const shown = offers.onAvailable(available({ uri: 'file:///p/a b.py', version: 1 }), active, (uri) =>
    uri.replace(/ /g, '%20'),
  );
  assert.equal(shown?.uri, active.uri);
});

test('a malformed range is ignored rather than drawn', () => {
  const offers = new NextEditOffers();
  const broken = available({ range: { start: { line: -1, character: 0 } } } as never);
  assert.equal(offers.onAvailable(broken, ACTIVE), undefined);
  assert.equal(offers.visible, false);
});

test('Tab jumps to the offer, hides the marker and keeps the offer until its edit arrives', () => {
  const offers = new NextEditOffers();
  offers.onAvailable(available(), ACTIVE);
  assert.equal(offers.servesInline(ACTIVE, 3), true);
  const target = offers.jump(ACTIVE);
  assert.deepEqual(target?.range.start, { line: 3, character: 8 });
  assert.equal(offers.visible, false);
  assert.equal(offers.servesInline(ACTIVE, 3), true);
  // A second Tab has no marker to jump to.
  assert.equal(offers.jump(ACTIVE), undefined);
});

test('Tab does not jump in another document or after the document moved on', () => {
  const offers = new NextEditOffers();
  offers.onAvailable(available(), ACTIVE);
  assert.equal(offers.jump({ ...ACTIVE, version: 5 }), undefined);
  assert.equal(offers.jump({ uri: 'file:///p/other.py', version: 4 }), undefined);
  assert.equal(offers.visible, true);
});

test('inline requests are served with the offer only on its line of its version', () => {
  const offers = new NextEditOffers();
  offers.onAvailable(available(), ACTIVE);
  assert.equal(offers.servesInline(ACTIVE, 2), false);
  assert.equal(offers.servesInline({ ...ACTIVE, version: 5 }, 3), false);
  assert.equal(offers.servesInline({ uri: 'file:///p/other.py', version: 4 }, 3), false);
});

test('Esc returns the offer to turn down and forgets it', () => {
  const offers = new NextEditOffers();
  offers.onAvailable(available(), ACTIVE);
  assert.equal(offers.dismiss()?.uri, ACTIVE.uri);
  assert.equal(offers.visible, false);
  assert.equal(offers.servesInline(ACTIVE, 3), false);
  assert.equal(offers.dismiss(), undefined);
});

test('an edit of the document ends the offer; an edit elsewhere does not', () => {
  const offers = new NextEditOffers();
  offers.onAvailable(available(), ACTIVE);
  assert.equal(offers.onDocumentChanged('file:///p/other.py'), false);
  assert.equal(offers.visible, true);
  assert.equal(offers.onDocumentChanged(ACTIVE.uri), true);
  assert.equal(offers.visible, false);
  assert.equal(offers.offer, undefined);
});

test('another active editor ends the offer; the same one keeps it', () => {
  const offers = new NextEditOffers();
  offers.onAvailable(available(), ACTIVE);
  assert.equal(offers.onActiveChanged(ACTIVE.uri), false);
  assert.equal(offers.visible, true);
  assert.equal(offers.onActiveChanged(undefined), true);
  assert.equal(offers.offer, undefined);
});

test('a newer offer replaces the one shown', () => {
  const offers = new NextEditOffers();
  offers.onAvailable(available(), ACTIVE);
  const next = { ...ACTIVE, version: 6 };
  const range = { start: { line: 4, character: 11 }, end: { line: 4, character: 16 } };
  offers.onAvailable(available({ version: 6, range }), next);
  assert.deepEqual(offers.offer, { ...next, range });
  assert.equal(offers.servesInline(ACTIVE, 3), false);
  assert.equal(offers.servesInline(next, 4), true);
});

const RESULT: NextEditResult = {
  edits: [{ range: available().range, newText: 'acc' }],
  reason: 'total → acc',
  version: ACTIVE.version,
};

function jumped(): NextEditOffers {
  const offers = new NextEditOffers();
  offers.onAvailable(available(), ACTIVE);
  offers.jump(ACTIVE);
  return offers;
}

test("after the jump the server's edit is previewed, and Tab accepts it once", () => {
  const offers = jumped();
  assert.equal(offers.phase, 'jumped');
  assert.deepEqual(offers.onEdit(RESULT, ACTIVE), RESULT.edits[0]);
  assert.equal(offers.phase, 'preview');
  assert.deepEqual(offers.preview, RESULT.edits[0]);
  assert.equal(offers.visible, false);
  assert.deepEqual(offers.accept(ACTIVE), RESULT.edits[0]);
  assert.equal(offers.preview, undefined);
  assert.equal(offers.accept(ACTIVE), undefined);
});

test('no edit, an edit for another version or a moved-on document ends the offer', () => {
  const cases: Array<[NextEditResult | null, typeof ACTIVE]> = [
    [null, ACTIVE],
    [{ ...RESULT, edits: [] }, ACTIVE],
    [{ ...RESULT, version: 3 }, ACTIVE],
    [RESULT, { ...ACTIVE, version: 5 }],
  ];
  for (const [result, document] of cases) {
    const offers = jumped();
    assert.equal(offers.onEdit(result, document), undefined);
    assert.equal(offers.phase, 'none');
    assert.equal(offers.offer, undefined);
  }
});

test('an edit that arrives without a jump is not previewed', () => {
  const offers = new NextEditOffers();
  offers.onAvailable(available(), ACTIVE);
  assert.equal(offers.onEdit(RESULT, ACTIVE), undefined);
  assert.equal(offers.visible, true);
});

test('a preview is not accepted in another document version', () => {
  const offers = jumped();
  offers.onEdit(RESULT, ACTIVE);
  assert.equal(offers.accept({ ...ACTIVE, version: 5 }), undefined);
  assert.notEqual(offers.preview, undefined);
});

test('Esc on the preview turns the offer down', () => {
  const offers = jumped();
  offers.onEdit(RESULT, ACTIVE);
  assert.equal(offers.dismiss()?.uri, ACTIVE.uri);
  assert.equal(offers.preview, undefined);
});

test('the cursor leaving the previewed line ends the preview; the marker stays wherever it goes', () => {
  const offers = jumped();
  offers.onEdit(RESULT, ACTIVE);
  assert.equal(offers.onCursor(ACTIVE.uri, 3), false);
  assert.notEqual(offers.preview, undefined);
  assert.equal(offers.onCursor(ACTIVE.uri, 1), true);
  assert.equal(offers.preview, undefined);

  const marked = new NextEditOffers();
  marked.onAvailable(available(), ACTIVE);
  assert.equal(marked.onCursor(ACTIVE.uri, 0), false);
  assert.equal(marked.visible, true);
});

test('the preview of a new text fits on one line and is never empty', () => {
  assert.equal(previewText('acc'), 'acc');
  assert.equal(previewText('a,\n    b'), 'a,⏎    b');
  assert.equal(previewText('x\r\ny'), 'x⏎y');
  assert.equal(previewText(''), '∅');
});
