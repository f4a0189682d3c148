/** `text` (a URL, or a message holding URLs) with every URL's password replaced, for logs and errors. */
export function redactUrl(text: string): string {
  return text.replace(/\/\/([^:@/\s]*):([^@/\s]*)@/g, (_m, user) => `//${user}:***@`);
}
