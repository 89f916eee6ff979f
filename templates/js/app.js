// {{name}}: a Wisp function in JavaScript, built with componentize-js.
// Answers every request with `200 text/plain` and the body
// `<GREETING> from {{name}}!` (GREETING defaults to "Hello").
import { getEnvironment } from 'wasi:cli/environment@0.2.10';

function env(name, fallback) {
  const found = getEnvironment().find(([key]) => key === name);
  return found ? found[1] : fallback;
}

addEventListener('fetch', (event) => {
  const greeting = env('GREETING', 'Hello');
  event.respondWith(
    new Response(`${greeting} from {{name}}!\n`, {
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    }),
  );
});
