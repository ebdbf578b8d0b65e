#!/usr/bin/env node
// An independent check of the Sigstore bundles the test signer writes
// (tests/lib/cosign_sign.py bundle), with sigstore-js (@sigstore/bundle and
// @sigstore/verify, installed by the test into a directory of its own:
// NODE_PATH). Offline and key-based: no Fulcio certificate, no Rekor entry,
// no timestamp, so the verifier runs with every threshold at 0. What
// sigstore-js checks then: the bundle's schema (bundleFromJSON: media type
// v0.3, verificationMaterial, a DSSE envelope with one signature), that the
// key named by the bundle's hint is the one given, and the ECDSA signature
// over the DSSE pre-authentication encoding of the envelope's payload. It
// does not look into the payload: that the in-toto statement's subject is
// the image's digest is checked here, as edgeflip checks it.
//
//   sigstore_verify.js BUNDLE.json KEY.pub sha256:HEX
// prints "ok" (exit 0), or "refused: WHY" (exit 3).
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const { bundleFromJSON } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

function main() {
	const [file, keyFile, digest] = process.argv.slice(2);
	if (!digest) {
		console.error('usage: sigstore_verify.js BUNDLE.json KEY.pub sha256:HEX');
		process.exit(2);
	}
	const key = crypto.createPublicKey(fs.readFileSync(keyFile));
	try {
		const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(file, 'utf8')));
		const root = { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] };
		// every hint finds the one key given: the bundle's hint is empty, as
		// cosign writes it for a key that is not in a trusted root
		const trust = toTrustMaterial(root, () => ({ publicKey: key, validFor: () => true }));
		const verifier = new Verifier(trust, {
			tlogThreshold: 0,
			ctlogThreshold: 0,
			timestampThreshold: 0,
			tsaThreshold: 0, // @sigstore/verify 1.x (node 18)
		});
		verifier.verify(toSignedEntity(bundle));
		const env = bundle.content.dsseEnvelope;
		if (env.payloadType !== 'application/vnd.in-toto+json')
			throw new Error(`payload type ${env.payloadType}`);
		const stmt = JSON.parse(Buffer.from(env.payload).toString('utf8'));
		const want = digest.replace(/^sha256:/, '');
		if (!(stmt.subject || []).some((s) => s.digest && s.digest.sha256 === want))
			throw new Error(`the statement's subject is not ${digest}`);
		console.log('ok');
	} catch (e) {
		console.log(`refused: ${e.code ? e.code + ': ' : ''}${e.message}`);
		process.exit(3);
	}
}

main();
