# `true` on every host with Fabric 2's ThreadingGroup (one thread per host),
# host keys checked against known_hosts as deploy and ssh do.
# usage: /usr/bin/python3 fab_exec.py SSH_CONFIG KNOWN_HOSTS "h1 h2 ..."
import sys
from fabric import Config, ThreadingGroup
from paramiko import RejectPolicy

cfgpath, known_hosts, hosts = sys.argv[1], sys.argv[2], sys.argv[3].split()
group = ThreadingGroup(*hosts, config=Config(runtime_ssh_path=cfgpath))
for c in group:
    c.client.load_host_keys(known_hosts)
    c.client.set_missing_host_key_policy(RejectPolicy())
group.run("true", hide=True)
group.close()
