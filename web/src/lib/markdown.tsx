// @jsxRuntime automatic
// @jsxImportSource react
// A small, safe Markdown renderer into React elements, for model output.
//
// Safety: the text is never interpreted as HTML. Everything becomes React text children
// (escaped by React), so `<script>` in a reply shows literally; links are made only for
// http(s) URLs and carry rel="noopener noreferrer".
//
// Streaming: the text is cut into top-level blocks at blank lines outside fenced code. Each
// block is a memoized component keyed by position whose only prop is its source string, so
// when a reply grows token by token only the last block (the one that changed) is parsed and
// rendered again; earlier blocks are skipped by React.memo.
//
// Supported: paragraphs (single newlines are line breaks), ATX headings, **strong**, *em*,
// ~~strike~~, `code`, fenced code blocks (``` or ~~~, with a language label), ordered and
// unordered lists (nested by indentation), > block quotes, tables (GFM pipes), horizontal
// rules, [links](https://...), bare https:// URLs, backslash escapes.
import { Fragment, memo, type ReactNode } from 'react';

// ---------- block splitting ----------

const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;

/** Splits text into top-level blocks at blank lines, keeping fenced code blocks whole. */
export function splitBlocks(text: string): string[] {
  const blocks: string[] = [];
  const lines = text.split('\n');
  let current: string[] = [];
  let fence: string | null = null;
  for (const line of lines) {
    if (fence) {
      current.push(line);
      const m = FENCE.exec(line);
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length && m[2].trim() === '') fence = null;
      continue;
    }
    const m = FENCE.exec(line);
    if (m) {
      fence = m[1];
      current.push(line);
      continue;
    }
    if (line.trim() === '') {
      if (current.length) blocks.push(current.join('\n'));
      current = [];
      continue;
    }
    current.push(line);
  }
  if (current.length) blocks.push(current.join('\n'));
  return blocks;
}

// ---------- inline ----------

const SAFE_URL = /^https?:\/\/[^\s]+$/i;
const BARE_URL = /^https?:\/\/[^\s<>"'`]+/i;
const PUNCT = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/;
const WORD = /[\p{L}\p{N}]/u;

function link(href: string, children: ReactNode, key: string) {
  return (
    <a key={key} href={href} target="_blank" rel="noopener noreferrer">
      {children}
    </a>
  );
}

/** Parses inline Markdown into React nodes. */
export function renderInline(s: string, keyPrefix = 'i'): ReactNode[] {
  const out: ReactNode[] = [];
  let text = '';
  let k = 0;
  const key = () => `${keyPrefix}.${k++}`;
  const flush = () => {
    if (text) out.push(text);
    text = '';
  };
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length && PUNCT.test(s[i + 1])) {
      text += s[i + 1];
      i += 2;
      continue;
    }
    if (c === '`') {
      let n = 1;
      while (s[i + n] === '`') n++;
      const ticks = '`'.repeat(n);
      let j = s.indexOf(ticks, i + n);
      while (j !== -1 && s[j + n] === '`') {
        // a longer run is not a closer
        let m = j;
        while (s[m] === '`') m++;
        j = s.indexOf(ticks, m);
      }
      if (j !== -1) {
        flush();
        let code = s.slice(i + n, j);
        if (code.length > 2 && code[0] === ' ' && code[code.length - 1] === ' ') code = code.slice(1, -1);
        out.push(<code key={key()}>{code}</code>);
        i = j + n;
        continue;
      }
      text += ticks;
      i += n;
      continue;
    }
    if ((c === '*' || c === '_' || c === '~') && s[i + 1] === c) {
      const delim = c + c;
      const prev = i > 0 ? s[i - 1] : ' ';
      const canOpen = s[i + 2] !== undefined && s[i + 2] !== ' ' && !(c === '_' && WORD.test(prev));
      if (canOpen) {
        const j = findCloser(s, delim, i + 2);
        if (j !== -1) {
          flush();
          const inner = renderInline(s.slice(i + 2, j), key());
          out.push(c === '~' ? <del key={key()}>{inner}</del> : <strong key={key()}>{inner}</strong>);
          i = j + 2;
          continue;
        }
      }
      text += delim;
      i += 2;
      continue;
    }
    if (c === '*' || c === '_') {
      const prev = i > 0 ? s[i - 1] : ' ';
      const canOpen = s[i + 1] !== undefined && s[i + 1] !== ' ' && !(c === '_' && WORD.test(prev));
      if (canOpen) {
        const j = findCloser(s, c, i + 1);
        if (j !== -1) {
          flush();
          out.push(<em key={key()}>{renderInline(s.slice(i + 1, j), key())}</em>);
          i = j + 1;
          continue;
        }
      }
      text += c;
      i += 1;
      continue;
    }
    if (c === '[') {
      const close = findBracket(s, i);
      if (close !== -1 && s[close + 1] === '(') {
        const end = s.indexOf(')', close + 2);
        if (end !== -1) {
          const target = s.slice(close + 2, end).trim().split(/\s+/)[0] ?? '';
          const label = s.slice(i + 1, close);
          flush();
          if (SAFE_URL.test(target)) out.push(link(target, renderInline(label, key()), key()));
          else out.push(<Fragment key={key()}>{renderInline(label, key())}</Fragment>);
          i = end + 1;
          continue;
        }
      }
    }
    if ((c === 'h' || c === 'H') && (i === 0 || !WORD.test(s[i - 1]))) {
      const m = BARE_URL.exec(s.slice(i, i + 2048));
      if (m) {
        let url = m[0];
        while (/[.,;:!?)\]]$/.test(url)) url = url.slice(0, -1);
        if (url.length > 'https://'.length) {
          flush();
          out.push(link(url, url, key()));
          i += url.length;
          continue;
        }
      }
    }
    text += c;
    i += 1;
  }
  flush();
  return out;
}

function findCloser(s: string, delim: string, from: number): number {
  let j = s.indexOf(delim, from);
  while (j !== -1) {
    const before = s[j - 1];
    const after = s[j + delim.length];
    const single = delim.length === 1;
    // A closer follows a non-space; a single delimiter must not be part of a double one, and
    // `_` must not be inside a word (snake_case).
    const okBefore = before !== ' ' && before !== '\\' && j > from;
    const okDouble = !single || (after !== delim && s[j - 1] !== delim);
    const okWord = delim[0] !== '_' || after === undefined || !WORD.test(after);
    if (okBefore && okDouble && okWord) {
      if (!single) {
        // In a longer run (`***`), the closer is the run's end: `**a *b***` is strong(a em(b)).
        let end = j + delim.length;
        while (s[end] === delim[0]) end++;
        return end - delim.length;
      }
      return j;
    }
    j = s.indexOf(delim, j + delim.length);
  }
  return -1;
}

function findBracket(s: string, open: number): number {
  let depth = 0;
  for (let j = open; j < s.length; j++) {
    if (s[j] === '\\') {
      j++;
      continue;
    }
    if (s[j] === '[') depth++;
    else if (s[j] === ']' && --depth === 0) return j;
  }
  return -1;
}

/** Inline content where single newlines become line breaks. */
function renderLines(s: string, keyPrefix: string): ReactNode[] {
  const lines = s.split('\n');
  const out: ReactNode[] = [];
  lines.forEach((line, n) => {
    if (n > 0) out.push(<br key={`${keyPrefix}.br${n}`} />);
    // Two trailing spaces or a trailing backslash are hard breaks in Markdown; here every
    // newline already is one, so just drop the marker.
    out.push(...renderInline(line.replace(/(\\| {2,})$/, ''), `${keyPrefix}.l${n}`));
  });
  return out;
}

// ---------- blocks ----------

const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const BULLET = /^( *)([-*+])(?:[ \t]+(.*))?$/;
const ORDERED = /^( *)(\d{1,9})([.)])(?:[ \t]+(.*))?$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const TABLE_SEP = /^ *\|? *:?-+:? *(\| *:?-+:? *)*\|? *$/;

function isListStart(line: string): boolean {
  const b = BULLET.exec(line);
  if (b && b[3] !== undefined && !RULE.test(line)) return true;
  const o = ORDERED.exec(line);
  return !!(o && o[4] !== undefined);
}

function startsBlock(line: string, next: string | undefined): boolean {
  return (
    FENCE.test(line) ||
    HEADING.test(line) ||
    RULE.test(line) ||
    QUOTE.test(line) ||
    isListStart(line) ||
    (line.includes('|') && next !== undefined && TABLE_SEP.test(next) && next.includes('-'))
  );
}

function splitRow(line: string): string[] {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  const cells: string[] = [];
  let cell = '';
  let inCode = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && s[i + 1] === '|') {
      cell += '|';
      i++;
    } else if (c === '`') {
      inCode = !inCode;
      cell += c;
    } else if (c === '|' && !inCode) {
      cells.push(cell.trim());
      cell = '';
    } else cell += c;
  }
  cells.push(cell.trim());
  return cells;
}

type Align = 'left' | 'center' | 'right' | undefined;

/** Renders a run of lines (a block, a list item's or a quote's content) as block elements. */
export function renderBlockLines(lines: string[], keyPrefix: string): ReactNode[] {
  const out: ReactNode[] = [];
  let k = 0;
  const key = () => `${keyPrefix}.${k++}`;
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') {
      i++;
      continue;
    }
    // fenced code
    const fm = FENCE.exec(line);
    if (fm) {
      const fence = fm[1];
      const lang = fm[2].trim().split(/\s+/)[0] ?? '';
      const indent = line.length - line.trimStart().length;
      const body: string[] = [];
      i++;
      while (i < lines.length) {
        const cm = FENCE.exec(lines[i]);
        if (cm && cm[1][0] === fence[0] && cm[1].length >= fence.length && cm[2].trim() === '') {
          i++;
          break;
        }
        body.push(indent ? lines[i].replace(new RegExp(`^ {0,${indent}}`), '') : lines[i]);
        i++;
      }
      out.push(
        <div className="md-code" key={key()}>
          {lang && <div className="md-code-lang">{lang}</div>}
          <pre>
            <code data-lang={lang || undefined}>{body.join('\n')}</code>
          </pre>
        </div>,
      );
      continue;
    }
    const hm = HEADING.exec(line);
    if (hm) {
      const level = hm[1].length;
      const content = renderInline(hm[2] ?? '', key());
      const H = `h${level}` as 'h1';
      out.push(<H key={key()}>{content}</H>);
      i++;
      continue;
    }
    if (RULE.test(line)) {
      out.push(<hr key={key()} />);
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const inner: string[] = [];
      while (i < lines.length && lines[i].trim() !== '') {
        const qm = QUOTE.exec(lines[i]);
        if (qm) inner.push(qm[1]);
        else if (startsBlock(lines[i], lines[i + 1])) break;
        else inner.push(lines[i]); // lazy continuation
        i++;
      }
      out.push(<blockquote key={key()}>{renderBlockLines(inner, key())}</blockquote>);
      continue;
    }
    if (isListStart(line)) {
      const [node, next] = renderList(lines, i, key());
      out.push(node);
      i = next;
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1]) && lines[i + 1].includes('-')) {
      const head = splitRow(line);
      const aligns: Align[] = splitRow(lines[i + 1]).map((c) =>
        c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : c.startsWith(':') ? 'left' : undefined,
      );
      i += 2;
      const rows: string[][] = [];
      while (i < lines.length && lines[i].trim() !== '' && lines[i].includes('|')) {
        rows.push(splitRow(lines[i]));
        i++;
      }
      const tk = key();
      out.push(
        <div className="md-table" key={tk}>
          <table>
            <thead>
              <tr>
                {head.map((c, n) => (
                  <th key={n} style={aligns[n] ? { textAlign: aligns[n] } : undefined}>
                    {renderInline(c, `${tk}.h${n}`)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r, rn) => (
                <tr key={rn}>
                  {head.map((_, n) => (
                    <td key={n} style={aligns[n] ? { textAlign: aligns[n] } : undefined}>
                      {renderInline(r[n] ?? '', `${tk}.${rn}.${n}`)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>,
      );
      continue;
    }
    // paragraph: until a blank line or the start of another block
    const para: string[] = [line];
    i++;
    while (i < lines.length && lines[i].trim() !== '' && !startsBlock(lines[i], lines[i + 1])) {
      para.push(lines[i]);
      i++;
    }
    const pk = key();
    out.push(<p key={pk}>{renderLines(para.join('\n'), pk)}</p>);
  }
  return out;
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

function renderList(lines: string[], start: number, keyPrefix: string): [ReactNode, number] {
  const first = lines[start];
  const om = ORDERED.exec(first);
  const ordered = !!om && om[4] !== undefined;
  const baseIndent = indentOf(first);
  const items: string[][] = [];
  let i = start;
  while (i < lines.length) {
    const line = lines[i];
    const ind = indentOf(line);
    const bm = BULLET.exec(line);
    const omm = ORDERED.exec(line);
    const isItem = ind <= baseIndent + 1 && isListStart(line) && (ordered ? !!omm : !!bm);
    if (isItem) {
      const m = ordered ? omm! : bm!;
      const content = (ordered ? m[4] : m[3]) ?? '';
      items.push([content]);
      i++;
      continue;
    }
    if (line.trim() === '') break;
    if (ind > baseIndent) {
      // continuation or nested content: dedent by the item's content column (at most 4)
      items[items.length - 1].push(line.slice(Math.min(ind, baseIndent + 4)));
      i++;
      continue;
    }
    if (startsBlock(line, lines[i + 1])) break;
    items[items.length - 1].push(line); // lazy continuation of the item's paragraph
    i++;
  }
  const children = items.map((item, n) => {
    const ik = `${keyPrefix}.${n}`;
    // A single-paragraph item renders inline (no <p>), like a "tight" list.
    const simple = item.length === 1 || item.every((l) => !startsBlock(l, undefined));
    return <li key={ik}>{simple ? renderLines(item.join('\n'), ik) : renderBlockLines(item, ik)}</li>;
  });
  if (ordered) {
    const startNum = Number(om![2]);
    return [
      <ol key={keyPrefix} start={startNum !== 1 ? startNum : undefined}>
        {children}
      </ol>,
      i,
    ];
  }
  return [<ul key={keyPrefix}>{children}</ul>, i];
}

// ---------- component ----------

const Block = memo(function Block({ src }: { src: string }) {
  return <>{renderBlockLines(src.split('\n'), 'b')}</>;
});

/**
 * Renders Markdown `text` as React elements. Cheap to call again with a longer text: blocks
 * that did not change are not re-rendered.
 */
export function Markdown({ text, className }: { text: string; className?: string }) {
  const blocks = splitBlocks(text);
  return (
    <div className={className ?? 'md'}>
      {blocks.map((b, n) => (
        <Block key={n} src={b} />
      ))}
    </div>
  );
}
