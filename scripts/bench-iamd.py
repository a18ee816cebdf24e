"""Signed GetUser throughput and latency, iamd vs moto's server, interleaved runs.

One request is signed with botocore's SigV4 signer (independent of iamd's verifier) and
replayed over keep-alive connections by C client threads for D seconds; iamd verifies
the signature and evaluates policy on every request (the caller is an IAM user with an
identity policy), moto checks neither.
usage: bench-iamd.py IAMD_URL IAMD_KEY IAMD_SECRET MOTO_URL [SECONDS] [ROUNDS] [CLIENTS...]"""
import http.client
import sys
import threading
import time
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def signed(url, key, secret, body):
    req = AWSRequest(method="POST", url=url + "/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(key, secret), "iam", "eu-west-1").add_auth(req)
    return dict(req.prepare().headers)


def run(url, headers, body, clients, seconds):
    u = urllib.parse.urlparse(url)
    lat, stop, errors = [], time.time() + seconds, [0]
    lock = threading.Lock()

    def worker():
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        mine = []
        while time.time() < stop:
            t = time.perf_counter()
            c.request("POST", "/", body=body, headers=headers)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                errors[0] += 1
            mine.append(time.perf_counter() - t)
        with lock:
            lat.extend(mine)

    ts = [threading.Thread(target=worker) for _ in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    lat.sort()
    n = len(lat)
    return n / seconds, lat[n // 2] * 1000, lat[int(n * 0.99)] * 1000, errors[0]


iamd, key, secret, moto = sys.argv[1:5]
seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 5
rounds = int(sys.argv[6]) if len(sys.argv) > 6 else 2
clients = [int(c) for c in sys.argv[7:]] or [1, 50]
body = b"Action=GetUser&Version=2010-05-08&UserName=bench"
for c in clients:
    for rnd in range(rounds):
        for name, url in (("iamd", iamd), ("moto", moto)):
            h = signed(url, key, secret, body)
            rps, p50, p99, err = run(url, h, body, c, seconds)
            print(f"{name} clients={c} round={rnd} {rps:.0f} req/s p50={p50:.2f}ms p99={p99:.2f}ms errors={err}", flush=True)
