// Unit tests for the app page's reference rules (web/src/pages/apps/refs.ts), which mirror
// src/apps/definition.h: `npm run test:unit`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  affectedWaves,
  checkTitle,
  dependencies,
  findReferences,
  referenceAtCaret,
  referenceCandidates,
  renameWidget,
  runWaves,
  substitute,
} from '../src/pages/apps/refs.ts';
import type { AppDefinition, Widget } from '../src/pages/apps/types.ts';

const L = { x: 0, y: 0, w: 6, h: 2 };
function app(widgets: Partial<Widget>[]): AppDefinition {
  return {
    schemaVersion: 1,
    title: 'T',
    description: '',
    widgets: widgets.map((w, i) => ({ id: `w${i + 1}`, type: 'user-input', title: `W${i + 1}`, layout: L, ...w }) as Widget),
  };
}

test('a reference is the longest title that matches, case-insensitively', () => {
  const def = app([{ title: 'Topic' }, { title: 'Topic summary' }, { title: 'Tone' }]);
  const refs = findReferences('Write about @topic SUMMARY and @Topic, in a @tone tone.', def);
  assert.deepEqual(
    refs.map((r) => [r.widgetId, r.written]),
    [
      ['w2', 'topic SUMMARY'],
      ['w1', 'Topic'],
      ['w3', 'tone'],
    ],
  );
  assert.equal(refs[0].offset, 12);
  assert.equal(refs[0].length, 14);
});

test('@ after a letter, digit or _ is no reference; a word after @ naming no widget is a missing one', () => {
  const def = app([{ title: 'Topic' }]);
  assert.deepEqual(findReferences('mail me@Topic or x_@Topic or 3@Topic', def), []);
  const refs = findReferences('Use @Topc and @ alone and (@Topic)', def);
  assert.deepEqual(
    refs.map((r) => [r.widgetId, r.written]),
    [
      ['', 'Topc'],
      ['w1', 'Topic'],
    ],
  );
  // "@" at the very start counts.
  assert.equal(findReferences('@Topic!', def)[0].widgetId, 'w1');
});

test('characters at or above U+0080 are letters; only ASCII letters fold', () => {
  const def = app([{ title: '목적지' }, { title: 'Ärger' }]);
  // After a Hangul syllable '@' starts no reference.
  assert.deepEqual(findReferences('여행@목적지', def), []);
  // A particle right after the title still leaves the longest title match.
  assert.deepEqual(findReferences('@목적지를 여행', def).map((r) => r.widgetId), ['w1']);
  // Ä does not fold to ä (ASCII folding only), so "@äRGER" is a missing reference.
  assert.deepEqual(findReferences('@ÄRGER and @äRGER', def).map((r) => [r.widgetId, r.written]), [
    ['w2', 'ÄRGER'],
    ['', 'äRGER'],
  ]);
});

test('rename rewrites every reference in every prompt, and refuses bad titles', () => {
  const def = app([
    { title: 'Destination' },
    { type: 'text-generation', title: 'Plan', prompt: 'Plan @destination; again @Destination. Not @Dest.' },
    { type: 'chatbot', title: 'Guide', prompt: 'Guide for @DESTINATION and @Plan' },
  ]);
  const r = renameWidget(def, 'w1', 'City');
  assert.ok('def' in r);
  assert.equal(r.def.widgets[0].title, 'City');
  assert.equal(r.def.widgets[1].prompt, 'Plan @City; again @City. Not @Dest.');
  assert.equal(r.def.widgets[2].prompt, 'Guide for @City and @Plan');
  // The input definition is unchanged.
  assert.equal(def.widgets[1].prompt, 'Plan @destination; again @Destination. Not @Dest.');
  assert.deepEqual(renameWidget(def, 'w1', 'plan'), { error: 'duplicate' });
  // At most 60 characters (code points, as definition.cc counts them), one line, no spaces at
  // either end.
  assert.deepEqual(renameWidget(def, 'w1', '가'.repeat(61)), { error: 'tooLong' });
  assert.equal(checkTitle(def, 'w1', '가'.repeat(60)), null);
  assert.equal(checkTitle(def, 'w1', '😀'.repeat(60)), null);
  assert.equal(checkTitle(def, 'w1', ' City'), 'notOneLine');
  assert.equal(checkTitle(def, 'w1', 'Ci\nty'), 'notOneLine');
  assert.equal(checkTitle(def, 'w1', ''), 'empty');
  assert.deepEqual(renameWidget(def, 'w9', 'X'), { error: 'notFound' });
  // Renaming to its own title in another case is allowed.
  assert.ok('def' in renameWidget(def, 'w1', 'DESTINATION'));
});

test('dependencies, run waves and affected waves', () => {
  const def = app([
    { title: 'Topic' }, // w1
    { title: 'Tone' }, // w2
    { type: 'text-generation', title: 'Outline', prompt: 'Outline of @Topic' }, // w3
    { type: 'text-generation', title: 'Essay', prompt: 'Essay from @Outline in a @Tone tone' }, // w4
    { type: 'image-generation', title: 'Cover', prompt: 'Cover for @Topic' }, // w5
    { type: 'text-generation', title: 'Title', prompt: 'A title for @Essay' }, // w6
    { type: 'chatbot', title: 'Tutor', prompt: 'Help with @Tone' }, // w7
    { type: 'static-text', title: 'About', content: 'About @Topic' }, // w8: content is no prompt
  ]);
  const deps = dependencies(def);
  assert.deepEqual([...deps.get('w4')!].sort(), ['w2', 'w3']);
  assert.deepEqual([...deps.get('w8')!], []);
  assert.deepEqual(runWaves(def), [['w3', 'w5', 'w7'], ['w4'], ['w6']]);
  assert.deepEqual(affectedWaves(def, ['w1']), [['w3', 'w5'], ['w4'], ['w6']]);
  // The Tone input: the essay (and what follows it) and the chatbot, in the waves of a whole
  // run (as AffectedWaves in graph.cc), empty waves dropped.
  assert.deepEqual(affectedWaves(def, ['w2']), [['w7'], ['w4'], ['w6']]);
  assert.deepEqual(affectedWaves(def, ['w6']), []);
  assert.deepEqual(affectedWaves(def, ['w3']), [['w4'], ['w6']]);
});

test('a prompt naming its own widget depends on it (Validate reports the cycle); waves still end', () => {
  const def = app([
    { type: 'text-generation', title: 'Loop', prompt: 'Again @Loop' },
    { type: 'text-generation', title: 'A', prompt: '@B' },
    { type: 'text-generation', title: 'B', prompt: '@A' },
  ]);
  assert.deepEqual([...dependencies(def).get('w1')!], ['w1']);
  assert.deepEqual(runWaves(def), [['w1', 'w3'], ['w2']]);
});

test('substitute replaces references with values and keeps missing ones as written', () => {
  const def = app([{ title: 'Topic' }, { title: 'Tone' }]);
  assert.equal(substitute('About @topic, @Tone, @Nope.', def, { w1: 'cats' }), 'About cats, , @Nope.');
});

test('autocomplete: the @word at the caret and the widgets it may name', () => {
  const def = app([
    { title: 'Topic' },
    { type: 'static-text', title: 'Tips' },
    { type: 'image-generation', title: 'Top image', prompt: '' },
    { type: 'text-generation', title: 'Stop words', prompt: '' },
  ]);
  assert.deepEqual(referenceAtCaret('Write @To', 9), { start: 6, query: 'To' });
  assert.deepEqual(referenceAtCaret('@', 1), { start: 0, query: '' });
  assert.equal(referenceAtCaret('me@To', 5), null);
  assert.equal(referenceAtCaret('no at here', 5), null);
  // Image widgets are not referenceable; a widget never lists itself; prefix matches first.
  assert.deepEqual(referenceCandidates(def, 'w4', 'to').map((w) => w.id), ['w1']);
  assert.deepEqual(referenceCandidates(def, 'w1', 'op').map((w) => w.id), ['w4']);
  assert.deepEqual(referenceCandidates(def, 'w3', '').map((w) => w.id), ['w1', 'w2', 'w4']);
});
