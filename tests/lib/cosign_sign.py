#!/usr/bin/env python3
"""A small test signer that writes image signatures in cosign's layouts to a
registry (Debian's podman and skopeo have sigstore disabled, and cosign is not
packaged). Signing is done by the openssl command (ECDSA P-256, SHA-256, ASN.1
DER), the layout follows cosign's specs/SIGNATURE_SPEC.md and
specs/BUNDLE_SPEC.md:

  cosign_sign.py tag    REGISTRY REPO DIGEST KEY.pem [--ref REF] [--for-digest D]
      the simple-signing payload as a layer of the manifest tagged
      sha256-<hex>.sig, its signature in the dev.cosignproject.cosign/signature
      annotation (what cosign 1.x/2.x `sign --key` writes);
  cosign_sign.py bundle REGISTRY REPO DIGEST KEY.pem [--for-digest D]
      a Sigstore bundle v0.3 with a DSSE envelope over an in-toto statement
      (predicate https://sigstore.dev/cosign/sign/v1, what cosign 3 `sign`
      writes), attached as an OCI 1.1 referrer through the referrers tag
      fallback sha256-<hex> (distribution 2.8 has no referrers API).

--ref names another repository in the payload, --for-digest signs another
digest than the one the signature is attached to, --tamper yes changes the
bundle's payload after signing (all to test refusals).
Plain http, loopback only.
"""
import base64
import hashlib
import json
import subprocess
import sys
import urllib.request


def http(method, url, body=None, ctype=None):
    req = urllib.request.Request(url, data=body, method=method)
    if ctype:
        req.add_header("Content-Type", ctype)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, dict(r.headers), r.read()


def put_blob(reg, repo, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _, h, _ = http("POST", f"http://{reg}/v2/{repo}/blobs/uploads/")
    loc = h["Location"]
    if loc.startswith("/"):
        loc = f"http://{reg}{loc}"
    sep = "&" if "?" in loc else "?"
    http("PUT", f"{loc}{sep}digest={digest}", data, "application/octet-stream")
    return {"digest": digest, "size": len(data)}


def put_manifest(reg, repo, ref, manifest, mtype):
    data = json.dumps(manifest, separators=(",", ":")).encode()
    http("PUT", f"http://{reg}/v2/{repo}/manifests/{ref}", data, mtype)
    return {"digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}


def sign(key, data):
    p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=data,
                       capture_output=True, check=True)
    return base64.b64encode(p.stdout).decode()


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"


def main():
    mode, reg, repo, digest, key = sys.argv[1:6]
    opts = dict(zip(sys.argv[6::2], sys.argv[7::2]))
    signed_digest = opts.get("--for-digest", digest)
    ref = opts.get("--ref", f"{reg}/{repo}")
    hexd = digest.split(":", 1)[1]
    if mode == "tag":
        payload = json.dumps({"critical": {"identity": {"docker-reference": ref},
                                           "image": {"docker-manifest-digest": signed_digest},
                                           "type": "cosign container image signature"},
                              "optional": None}, separators=(",", ":")).encode()
        layer = put_blob(reg, repo, payload)
        config = put_blob(reg, repo, json.dumps({
            "architecture": "", "os": "", "config": {},
            "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}).encode())
        put_manifest(reg, repo, f"sha256-{hexd}.sig", {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": dict(mediaType="application/vnd.oci.image.config.v1+json", **config),
            "layers": [dict(mediaType="application/vnd.dev.cosign.simplesigning.v1+json",
                            annotations={"dev.cosignproject.cosign/signature":
                                         sign(key, payload)}, **layer)]}, OCI_MANIFEST)
    elif mode == "bundle":
        stmt = json.dumps({"_type": "https://in-toto.io/Statement/v1",
                           "subject": [{"digest": {"sha256": signed_digest.split(":", 1)[1]}}],
                           "predicateType": "https://sigstore.dev/cosign/sign/v1",
                           "predicate": {}}, separators=(",", ":")).encode()
        ptype = "application/vnd.in-toto+json"
        pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype.encode(), len(stmt), stmt)
        bundle = json.dumps({"mediaType": BUNDLE,
                             "verificationMaterial": {"publicKey": {"hint": ""},
                                                      "tlogEntries": []},
                             "dsseEnvelope": {"payload": base64.b64encode(
                                 stmt.replace(b'"predicate":{}', b'"predicate":{"x":1}')
                                 if "--tamper" in opts else stmt).decode(),
                                              "payloadType": ptype,
                                              "signatures": [{"sig": sign(key, pae),
                                                              "keyid": ""}]}}).encode()
        layer = put_blob(reg, repo, bundle)
        empty = put_blob(reg, repo, b"{}")
        man = put_manifest(reg, repo, "bundle-" + hexd[:12], {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE,
            "config": dict(mediaType="application/vnd.oci.empty.v1+json", **empty),
            "layers": [dict(mediaType=BUNDLE, **layer)],
            "subject": {"mediaType": OCI_MANIFEST, "digest": digest, "size": 0}}, OCI_MANIFEST)
        put_manifest(reg, repo, f"sha256-{hexd}", {
            "schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [dict(mediaType=OCI_MANIFEST, artifactType=BUNDLE, **man)]}, OCI_INDEX)
    else:
        sys.exit("usage: cosign_sign.py tag|bundle REGISTRY REPO DIGEST KEY.pem")


if __name__ == "__main__":
    main()
