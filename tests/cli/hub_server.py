# SPDX-License-Identifier: Apache-2.0
"""A local stand-in for the Hugging Face hub and ModelScope, for tests of
`octo pull`: the endpoints octo uses, with the headers the real hub sends.

Hugging Face:
  GET  /api/models/ORG/NAME/revision/REV?blobs=true  -> {"sha", "siblings": [
        {"rfilename", "size", "blobId", "lfs": {"sha256", "size"}}]}
  GET|HEAD /ORG/NAME/resolve/REV/PATH  -> small files: 200 with ETag (git blob
        sha1) and X-Repo-Commit; LFS files: 302 to /cdn/SHA256 with
        X-Repo-Commit, X-Linked-Etag (sha256), X-Linked-Size
  GET  /cdn/SHA256                     -> the bytes, honouring Range (206)
ModelScope:
  GET  /api/v1/models/ORG/NAME/repo/files?Revision=R&Recursive=true
  GET  /api/v1/models/ORG/NAME/repo?Revision=R&FilePath=P  (Range too)

Faults, per file path (set through the Hub object): "drop" sends the full
Content-Length but closes the connection after half the body (once);
"corrupt" flips a byte of the body. Every request is recorded (method, path,
Range, Authorization) in Hub.log.
"""
import hashlib
import http.server
import json
import threading
import urllib.parse


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, files, lfs, commit):
        self.files = files  # path -> bytes
        self.lfs = set(lfs)
        self.commit = commit

    def sha256(self, path):
        return hashlib.sha256(self.files[path]).hexdigest()


class Hub:
    def __init__(self):
        self.repos = {}  # "org/name" -> {rev: Repo}
        self.faults = {}  # path -> "drop" | "corrupt"
        self.log = []
        self.lock = threading.Lock()
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_HEAD(self):
                hub._serve(self, head=True)

            def do_GET(self):
                hub._serve(self, head=False)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def add(self, repo, rev, repo_obj):
        self.repos.setdefault(repo, {})[rev] = repo_obj

    # ---- responses ----

    def _send(self, h, status, body=b"", headers=None, head=False):
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def _json(self, h, obj, head=False):
        self._send(h, 200, json.dumps(obj).encode(), {"Content-Type": "application/json"},
                   head)

    def _bytes(self, h, repo, path, head):
        data = repo.files[path]
        fault = self.faults.get(path)
        if fault == "corrupt":
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        start, status = 0, 200
        rng = h.headers.get("Range")
        headers = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                self._send(h, 416, b"", {"Content-Range": f"bytes */{len(data)}"}, head)
                return
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        if fault == "drop" and not head:
            with self.lock:
                self.faults.pop(path, None)  # once
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body[:len(body) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        self._send(h, status, body, headers, head)

    def _serve(self, h, head):
        u = urllib.parse.urlsplit(h.path)
        q = urllib.parse.parse_qs(u.query)
        parts = [urllib.parse.unquote(p) for p in u.path.split("/")[1:]]
        with self.lock:
            self.log.append({"method": h.command, "path": u.path, "query": u.query,
                             "range": h.headers.get("Range"),
                             "auth": h.headers.get("Authorization")})
        # HF: /api/models/ORG/NAME/revision/REV
        if parts[:2] == ["api", "models"] and len(parts) == 6 and parts[4] == "revision":
            repo = self.repos.get(f"{parts[2]}/{parts[3]}", {}).get(parts[5])
            if not repo:
                return self._send(h, 404, b'{"error":"Repository not found"}', head=head)
            sib = []
            for p, d in repo.files.items():
                s = {"rfilename": p, "size": len(d), "blobId": git_blob_sha1(d)}
                if p in repo.lfs:
                    s["lfs"] = {"sha256": repo.sha256(p), "size": len(d),
                                "pointerSize": 134}
                sib.append(s)
            return self._json(h, {"id": f"{parts[2]}/{parts[3]}", "sha": repo.commit,
                                  "siblings": sib}, head)
        # HF: /ORG/NAME/resolve/REV/PATH
        if len(parts) >= 5 and parts[2] == "resolve":
            revs = self.repos.get(f"{parts[0]}/{parts[1]}", {})
            repo = revs.get(parts[3]) or next((r for r in revs.values()
                                               if r.commit == parts[3]), None)
            path = "/".join(parts[4:])
            if not repo or path not in repo.files:
                return self._send(h, 404, b"Entry not found", {"X-Error-Code": "EntryNotFound"},
                                  head)
            data = repo.files[path]
            common = {"X-Repo-Commit": repo.commit}
            if path in repo.lfs:
                common.update({"X-Linked-Etag": f'"{repo.sha256(path)}"',
                               "X-Linked-Size": str(len(data)),
                               "ETag": f'"{git_blob_sha1(data)}"',
                               "Location": f"/cdn/{repo.sha256(path)}"})
                return self._send(h, 302, b"", common, head)
            common["ETag"] = f'"{git_blob_sha1(data)}"'
            return self._bytes_with(h, repo, path, head, common)
        # HF CDN: /cdn/SHA256
        if len(parts) == 2 and parts[0] == "cdn":
            for revs in self.repos.values():
                for repo in revs.values():
                    for p in repo.lfs:
                        if repo.sha256(p) == parts[1]:
                            return self._bytes(h, repo, p, head)
            return self._send(h, 404, b"", head=head)
        # ModelScope
        if parts[:3] == ["api", "v1", "models"] and len(parts) >= 6 and parts[5] == "repo":
            rev = q.get("Revision", ["master"])[0]
            repo = self.repos.get(f"{parts[3]}/{parts[4]}", {}).get(rev)
            if not repo:
                return self._send(h, 404, b'{"Code":404,"Message":"not found"}', head=head)
            if len(parts) == 7 and parts[6] == "files":
                files = [{"Name": p.split("/")[-1], "Path": p, "Size": len(d),
                          "Sha256": hashlib.sha256(d).hexdigest(), "Type": "blob",
                          "Revision": rev} for p, d in repo.files.items()]
                dirs = {p.rsplit("/", 1)[0] for p in repo.files if "/" in p}
                files += [{"Name": d, "Path": d, "Size": 0, "Sha256": "", "Type": "tree"}
                          for d in dirs]
                return self._json(h, {"Code": 200, "Data": {"Files": files}}, head)
            if len(parts) == 6:
                path = q.get("FilePath", [""])[0]
                if path not in repo.files:
                    return self._send(h, 404, b"", head=head)
                return self._bytes(h, repo, path, head)
        self._send(h, 404, b"not found", head=head)

    def _bytes_with(self, h, repo, path, head, extra):
        # small files come straight from resolve, with the hub's headers
        orig = h.send_response

        def send_response(code, message=None):
            orig(code, message)
            for k, v in extra.items():
                h.send_header(k, v)
        h.send_response = send_response
        try:
            self._bytes(h, repo, path, head)
        finally:
            h.send_response = orig
