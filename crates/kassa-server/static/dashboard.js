// The dashboard's copy buttons, as progressive enhancement: a button[data-copy] names the
// read-only input whose value it copies. Without this script the button stays hidden and the
// input can be selected and copied by hand. First-party, so the strict CSP allows it.
'use strict';

for (const button of document.querySelectorAll('button[data-copy]')) {
  const id = button.dataset.copy;
  const input = document.getElementById(id);
  const said = document.querySelector(`[data-copied-for="${id}"]`);
  if (!input) continue;
  button.hidden = false;
  button.addEventListener('click', async () => {
    let copied = false;
    try {
      await navigator.clipboard.writeText(input.value);
      copied = true;
    } catch {
      input.focus();
      input.select();
      try {
        copied = document.execCommand('copy');
      } catch {
        copied = false;
      }
    }
    if (said) said.textContent = copied ? 'Link copied.' : 'Select the link and copy it.';
  });
}
