#!/usr/bin/env python3
"""Generates the test PKI into DIR with the openssl command (argv lists, no shell):
ca.pem (the test CA the client is told to trust), good.pem/key (127.0.0.1 and localhost, signed by the
CA), wrong_host.pem/key (only wrong.example), expired.pem/key (valid in January 2020 only),
unknown_ca.pem/key (127.0.0.1, signed by a CA the client does not know)."""
import os
import subprocess
import sys


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def new_key(name, cwd):
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", name, cwd=cwd)


def make_ca(name, subject, cwd):
    new_key(name + ".key", cwd)
    openssl("req", "-x509", "-new", "-key", name + ".key", "-out", name + ".pem", "-days", "30", "-subj", subject,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=cwd)


def make_leaf(name, san, ca, cwd, dates=None):
    new_key(name + ".key", cwd)
    openssl("req", "-new", "-key", name + ".key", "-out", name + ".csr", "-subj", "/CN=ibdriver test server", cwd=cwd)
    with open(os.path.join(cwd, name + ".ext"), "w") as ext:
        ext.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" % san)
    if dates is None:
        openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key", "-CAcreateserial",
                "-out", name + ".pem", "-days", "30", "-extfile", name + ".ext", cwd=cwd)
        return
    # 'openssl ca' is the one that takes explicit validity dates.
    db = os.path.join(cwd, "ca-db")
    os.makedirs(db, exist_ok=True)
    open(os.path.join(db, "index.txt"), "w").close()
    with open(os.path.join(db, "serial"), "w") as serial:
        serial.write("1000\n")
    with open(os.path.join(cwd, "ca.cnf"), "w") as config:
        config.write("[ca]\ndefault_ca=test\n[test]\ndatabase=%s/index.txt\nserial=%s/serial\nnew_certs_dir=%s\n"
                     "default_md=sha256\npolicy=any\ncopy_extensions=none\n[any]\ncommonName=supplied\n" % (db, db, db))
    openssl("ca", "-batch", "-config", "ca.cnf", "-cert", ca + ".pem", "-keyfile", ca + ".key", "-in", name + ".csr",
            "-out", name + ".pem", "-startdate", dates[0], "-enddate", dates[1], "-extfile", name + ".ext", "-notext",
            cwd=cwd)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    make_ca("ca", "/CN=ibdriver test CA", out)
    make_ca("other-ca", "/CN=a CA nobody trusts", out)
    make_leaf("good", "IP:127.0.0.1,DNS:localhost", "ca", out)
    make_leaf("wrong_host", "DNS:wrong.example", "ca", out)
    make_leaf("unknown_ca", "IP:127.0.0.1,DNS:localhost", "other-ca", out)
    make_leaf("expired", "IP:127.0.0.1,DNS:localhost", "ca", out, ("20200101000000Z", "20200201000000Z"))


if __name__ == "__main__":
    main()
