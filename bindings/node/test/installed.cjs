'use strict';
// Run from a project where the packed tarball is installed (make node-pack-test): the package
// loads by its name, decodes a message, and its native errors are its own classes.
const path = require('node:path');
const ami = require(require.resolve('libami', { paths: [process.cwd()] }));
const installed = path.dirname(require.resolve('libami/package.json', { paths: [process.cwd()] }));
if (!installed.startsWith(process.cwd())) throw new Error(`libami loaded from ${installed}, not the install`);
for (const licence of ['LICENSE-MIT', 'LICENSE-APACHE']) {
  const text = require('node:fs').readFileSync(path.join(installed, licence), 'utf8');
  if (!text.includes(licence === 'LICENSE-MIT' ? 'MIT License' : 'Apache License')) throw new Error(`${licence} is not the licence text`);
}
const d = new ami.Decoder();
const [banner, message] = d.decode(Buffer.from('Asterisk Call Manager/11.0.0\r\nEvent: Hangup\r\nChannel: PJSIP/1\r\n\r\n'));
if (banner.version !== '11.0.0' || message.get('channel') !== 'PJSIP/1') throw new Error('decoding failed');
let refused = false;
try {
  ami.encodeAction('Ping', { X: 'a\r\nb' });
} catch (e) {
  refused = e instanceof ami.LocalProtocolError;
}
if (!refused) throw new Error('encodeAction did not refuse CR LF with LocalProtocolError');
console.log(`npm pack: libami ${ami.version} installed in ${installed}, decoding and refusing injection`);
