"""boto3 against iamd: create 250 users, then page through them 7 at a time."""
import sys

import boto3

iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="eu-west-1")
for i in range(250):
    iam.create_user(UserName=f"u{i:03d}", Path="/bulk/")
pages = 0
names = []
for page in iam.get_paginator("list_users").paginate(PathPrefix="/bulk/", PaginationConfig={"PageSize": 7}):
    pages += 1
    names += [u["UserName"] for u in page["Users"]]
    assert page["IsTruncated"] == ("Marker" in page)
assert names == [f"u{i:03d}" for i in range(250)], names[:10]
print(f"{len(names)} users in {pages} pages")
