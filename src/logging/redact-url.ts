/**
 * A connection URL fit for logs and error messages: its password replaced by `***`.
 * Unparseable input is never echoed (it may hold a secret).
 *
 * @param url - a postgres://, redis:// or similar URL
 * @returns the URL without its password
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    return err instanceof TypeError ? '(unparseable URL)' : '(unprintable URL)';
  }
  if (u.password) {
    u.password = '***';
  }
  return u.toString();
}
