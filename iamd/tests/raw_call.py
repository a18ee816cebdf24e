"""Send one raw Query body to iamd, signed by botocore's own SigV4 signer (an
independent implementation), and print the HTTP status and body.

usage: raw_call.py ENDPOINT SERVICE BODY [--no-auth] [--token-unsigned TOKEN]
credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN, signed
as botocore signs it); --token-unsigned adds X-Amz-Security-Token after signing."""
import os
import sys
import urllib.error
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

endpoint, service, body = sys.argv[1], sys.argv[2], sys.argv[3]
if body.startswith("@"):
    with open(body[1:], "rb") as f:
        body = f.read()
else:
    body = body.encode()
headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
req = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=headers)
if "--no-auth" not in sys.argv:
    creds = Credentials(
        os.environ["AWS_ACCESS_KEY_ID"],
        os.environ["AWS_SECRET_ACCESS_KEY"],
        os.environ.get("AWS_SESSION_TOKEN"),
    )
    SigV4Auth(creds, service, "eu-west-1").add_auth(req)
if "--token-unsigned" in sys.argv:
    req.headers["X-Amz-Security-Token"] = sys.argv[sys.argv.index("--token-unsigned") + 1]
prepared = req.prepare()
r = urllib.request.Request(prepared.url, data=body, method="POST", headers=dict(prepared.headers))
try:
    with urllib.request.urlopen(r, timeout=30) as resp:
        print(resp.status)
        print(resp.read().decode())
except urllib.error.HTTPError as e:
    print(e.code)
    print(e.read().decode())
