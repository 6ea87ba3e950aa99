// Text from the server (span attributes, commit messages, alias reasons, key names) is data from
// strangers. Written raw to a terminal, an ESC sequence could clear the screen, retitle the window
// or plant a hyperlink, and a newline in a key name could forge a row of `audit list`. Every sink
// in the CLI writes through these, so such characters show as visible escapes instead.

// C0 controls (but newline and tab), DEL, C1 controls, and the bidirectional overrides and
// isolates that reorder what a reader sees.
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const LINE_BREAKS = /\r\n|[\r\n\u2028\u2029]/g;

const visible = (c: string) => {
  const code = c.codePointAt(0)!;
  if (c === '\r') return '\\r';
  if (c === '\n' || c === '\r\n') return '\\n';
  return `\\u{${code.toString(16).padStart(2, '0')}}`;
};

/** Text for the terminal: line breaks and tabs kept, every other control character made visible. */
export function terminalText(s: string): string {
  return s.replace(UNSAFE, visible);
}

/** One line for a table cell or a one-line field: line breaks made visible too, tabs as a space. */
export function terminalLine(s: string): string {
  return terminalText(s.replace(LINE_BREAKS, visible).replace(/\t/g, ' '));
}
