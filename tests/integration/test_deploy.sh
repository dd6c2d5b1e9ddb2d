#!/usr/bin/env bash
# deploy/, checked offline (no cluster, no container runtime): every manifest parses and
# has the fields Kubernetes requires of the kinds and fields it uses (kubeconform's
# strict check where it is installed); the DaemonSet runs only binaries the Containerfile
# puts into the image, with flags salved and salvectl take; every mount names a volume;
# the ConfigMap's policies pass salvectl validate and are mounted where --policy looks;
# the image is the one the Containerfile documents; and its runtime stage installs the
# packages of the libraries salved and salvectl load (ldd, dpkg -S).
. "$(dirname "$0")/lib.sh"

for t in python3 ldd readelf dpkg dpkg-query; do
	command -v "$t" > /dev/null || skip "needs $t"
done
python3 -c 'import yaml' 2> /dev/null || fail "needs python3-yaml: run 'sudo make deps'"
[ -x "$BUILD/salved" ] && [ -x "$BUILD/salvectl" ] || fail "no $BUILD/salved or salvectl: run make"

DEPLOY=$ROOT/deploy
if command -v kubeconform > /dev/null; then
	kubeconform -strict -summary "$DEPLOY/kubernetes" || fail "kubeconform refuses the manifests"
fi

# What the Containerfile's runtime stage installs and copies, and the packages of the
# libraries the binaries load: the package owning each file ldd resolves (dpkg -S; the
# file may be listed under /lib or /usr/lib), and what each installed package depends on.
"$BUILD/salved" --help > "$WORK/salved.help" || fail "salved --help failed"
for bin in salved salvectl; do
	readelf -d "$BUILD/$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' > "$WORK/$bin.needed"
	ldd "$BUILD/$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 } $1 ~ /^\// { print $1, $1 }' \
		> "$WORK/$bin.ldd"
done
sort -u "$WORK"/*.ldd | while read -r soname path; do
	pkg=
	for p in "$path" "${path/#\/usr\/lib\//\/lib\/}" "${path/#\/lib\//\/usr\/lib\/}" \
		"$(realpath "$path")"; do
		pkg=$(dpkg -S "$p" 2> /dev/null | head -n1 | cut -d: -f1) && [ -n "$pkg" ] && break
	done
	[ -n "$pkg" ] || { echo "FAIL: no package owns $path (ldd of $soname)"; continue; }
	printf '%s %s\n' "$soname" "$pkg"
done > "$WORK/packages" || true
grep '^FAIL' "$WORK/packages" && fail "a library salved loads is in no Debian package"
dpkg-query -W -f='${Package} ${Pre-Depends}, ${Depends}\n' > "$WORK/depends"

SALVECTL=$BUILD/salvectl SALVED=$BUILD/salved python3 - "$DEPLOY" "$WORK" "$ROOT" <<'EOF' ||
import glob, os, re, shlex, subprocess, sys
import yaml

deploy, work, root = sys.argv[1:4]
failures = []


def fail(msg):
    failures.append(msg)


# ---- the Containerfile ------------------------------------------------------------
cf_path = os.path.join(deploy, "Containerfile")
lines, cont = [], ""
for raw in open(cf_path):
    line = raw.rstrip("\n")
    if not cont and line.lstrip().startswith("#"):
        lines.append(line)
        continue
    if line.endswith("\\"):
        cont += line[:-1] + " "
        continue
    lines.append(cont + line)
    cont = ""
stages = []  # [{"from":..., "name":..., "copy": [(from_stage, src, dst)], "run": [...]}]
documented = set()
for line in lines:
    m = re.match(r"#\s*image:\s*(\S+)", line.strip())
    if m:
        documented.add(m.group(1))
    m = re.search(r"\b(?:podman|docker) build .*-t (\S+)", line)
    if m:
        documented.add(m.group(1))
    if line.lstrip().startswith("#") or not line.strip():
        continue
    word, _, rest = line.strip().partition(" ")
    word = word.upper()
    if word == "FROM":
        parts = rest.split()
        stages.append({"from": parts[0], "name": parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else None,
                       "copy": [], "run": [], "entrypoint": None, "cmd": None, "labels": rest})
    elif not stages:
        fail(f"Containerfile: {word} before the first FROM")
    elif word == "COPY":
        args = shlex.split(rest)
        src_stage = None
        while args and args[0].startswith("--"):
            if args[0].startswith("--from="):
                src_stage = args[0][len("--from="):]
            args.pop(0)
        for src in args[:-1]:
            stages[-1]["copy"].append((src_stage, src, args[-1]))
    elif word == "RUN":
        stages[-1]["run"].append(rest)
    elif word in ("ENTRYPOINT", "CMD"):
        stages[-1][word.lower()] = yaml.safe_load(rest)
    elif word == "LABEL":
        stages[-1].setdefault("label_text", "")
        stages[-1]["label_text"] += rest
if len(stages) < 2:
    fail("Containerfile: expected a build stage and a runtime stage")
    stages = stages + [{"from": "", "name": None, "copy": [], "run": [], "entrypoint": None, "cmd": None}] * 2
build, runtime = stages[0], stages[-1]
if not runtime["from"].startswith("debian:12"):
    fail(f"Containerfile: the runtime stage is {runtime['from']!r}, not Debian 12")
if not build["from"].startswith("debian:12"):
    fail(f"Containerfile: the build stage is {build['from']!r}, not Debian 12")

# The build stage: its sources exist here, and it builds both binaries.
for _, src, _ in build["copy"]:
    if not os.path.exists(os.path.join(root, src)):
        fail(f"Containerfile: the build stage copies {src}, which is not in the repository")
if not any("make deps" in r and "build/salved" in r and "build/salvectl" in r for r in build["run"]):
    fail("Containerfile: the build stage does not run make deps and build build/salved and build/salvectl")

# The runtime stage: what it copies from the build, where.
image_files = {}
for stage, src, dst in runtime["copy"]:
    if stage != build["name"]:
        fail(f"Containerfile: the runtime stage copies {src} from {stage!r}, not the build stage")
    rel = os.path.relpath(src, "/src") if src.startswith("/src/") else src
    if not (rel.startswith("build/") or os.path.exists(os.path.join(root, rel))):
        fail(f"Containerfile: {src} is not something the build stage has")
    image_files[dst] = rel
for binary in ("salved", "salvectl"):
    if f"build/{binary}" not in image_files.values():
        fail(f"Containerfile: the runtime stage does not copy build/{binary}")

# The runtime stage's packages cover the libraries: a library a binary names (NEEDED)
# by its own package, the others it loads by that or by a dependency of one.
installed = set()
for r in runtime["run"]:
    for cmd in r.split("&&"):
        words = cmd.split()
        if "apt-get" in words and "install" in words:
            installed |= {w for w in words[words.index("install") + 1:] if not w.startswith("-")}
if not installed:
    fail("Containerfile: the runtime stage installs no package with apt-get install")
depends = {}
for line in open(os.path.join(work, "depends")):
    name, _, rest = line.partition(" ")
    depends[name] = {re.split(r"[ :(]", alt.strip())[0]
                     for dep in rest.split(",") if dep.strip()
                     for alt in dep.split("|")[:1] if alt.strip()}
closure, todo = set(), list(installed)
while todo:
    p = todo.pop()
    if p not in closure:
        closure.add(p)
        todo.extend(depends.get(p, ()))
package_of = dict(line.split() for line in open(os.path.join(work, "packages")))
for binary in ("salved", "salvectl"):
    for soname in open(os.path.join(work, f"{binary}.needed")).read().split():
        pkg = package_of.get(soname)
        if pkg is None:
            fail(f"{binary} needs {soname}, which ldd does not resolve")
        elif pkg not in installed and pkg != "libc6":  # libc6 is in every Debian image
            fail(f"Containerfile: {binary} needs {soname} from {pkg}, not in the runtime stage's apt-get install")
for soname, pkg in package_of.items():
    if pkg not in closure and pkg != "libc6":
        fail(f"Containerfile: {soname} (package {pkg}) is loaded by salved but neither installed "
             f"nor a dependency of what is")

version = re.search(r"^VERSION\s*:=\s*(\S+)", open(os.path.join(root, "Makefile")).read(), re.M).group(1)
if not documented:
    fail("Containerfile: no image name documented ('# image: NAME' or a build command's -t NAME)")
for name in documented:
    if not name.endswith(":" + version):
        fail(f"Containerfile: the image {name} is not tagged with salve's version {version}")
if f'org.opencontainers.image.version="{version}"' not in runtime.get("label_text", ""):
    fail(f"Containerfile: the image's version label is not {version}")

# ---- the manifests: parse, and the fields of the kinds used -------------------------
S, I, B = str, int, bool
QTY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")
LABELS = {"*": S}
META = {"name": S, "namespace": S, "labels": LABELS, "annotations": LABELS}
EXEC = {"exec": {"command": [S]}, "initialDelaySeconds": I, "periodSeconds": I,
        "timeoutSeconds": I, "failureThreshold": I, "successThreshold": I}
CONTAINER = {
    "name": S, "image": S, "imagePullPolicy": S, "command": [S], "args": [S],
    "env": [{"name": S, "value": S}],
    "securityContext": {"privileged": B, "allowPrivilegeEscalation": B, "readOnlyRootFilesystem": B,
                        "runAsUser": I, "runAsNonRoot": B,
                        "capabilities": {"add": [S], "drop": [S]},
                        "seccompProfile": {"type": S, "localhostProfile": S},
                        "appArmorProfile": {"type": S, "localhostProfile": S}},
    "resources": {"requests": {"cpu": S, "memory": S}, "limits": {"cpu": S, "memory": S}},
    "startupProbe": EXEC, "livenessProbe": EXEC, "readinessProbe": EXEC,
    "volumeMounts": [{"name": S, "mountPath": S, "readOnly": B, "subPath": S, "mountPropagation": S}],
}
VOLUME = {"name": S, "configMap": {"name": S, "defaultMode": I, "items": [{"key": S, "path": S}]},
          "hostPath": {"path": S, "type": S}, "emptyDir": {"medium": S, "sizeLimit": S}}
POD = {"serviceAccountName": S, "automountServiceAccountToken": B, "hostPID": B, "hostNetwork": B,
       "priorityClassName": S, "terminationGracePeriodSeconds": I, "nodeSelector": LABELS,
       "tolerations": [{"key": S, "operator": S, "value": S, "effect": S, "tolerationSeconds": I}],
       "containers": [CONTAINER], "initContainers": [CONTAINER], "volumes": [VOLUME]}
KINDS = {
    ("v1", "Namespace"): {"metadata": META},
    ("v1", "ServiceAccount"): {"metadata": META, "automountServiceAccountToken": B},
    ("v1", "ConfigMap"): {"metadata": META, "data": {"*": S}},
    ("apps/v1", "DaemonSet"): {"metadata": META, "spec": {
        "selector": {"matchLabels": LABELS},
        "updateStrategy": {"type": S, "rollingUpdate": {"maxUnavailable": (I, S), "maxSurge": (I, S)}},
        "minReadySeconds": I, "revisionHistoryLimit": I,
        "template": {"metadata": META, "spec": POD}}},
}
REQUIRED = {"DaemonSet": ["spec.selector", "spec.template.spec.containers"],
            "ConfigMap": ["data"]}
NAMESPACED = {"ServiceAccount", "ConfigMap", "DaemonSet"}


def check(value, schema, where):
    if isinstance(schema, tuple):
        if not isinstance(value, schema) or isinstance(value, bool) and B not in schema:
            fail(f"{where}: expected one of {[t.__name__ for t in schema]}, got {value!r}")
    elif isinstance(schema, type):
        if not isinstance(value, schema) or (schema is I and isinstance(value, bool)):
            fail(f"{where}: expected {schema.__name__}, got {value!r}")
    elif isinstance(schema, list):
        if not isinstance(value, list):
            fail(f"{where}: expected a list, got {value!r}")
            return
        for i, v in enumerate(value):
            check(v, schema[0], f"{where}[{i}]")
    else:
        if not isinstance(value, dict):
            fail(f"{where}: expected a mapping, got {value!r}")
            return
        for k, v in value.items():
            if k in schema:
                check(v, schema[k], f"{where}.{k}")
            elif "*" in schema:
                check(v, schema["*"], f"{where}.{k}")
            else:
                fail(f"{where}: unknown field {k!r}")


def get(doc, path):
    for k in path.split("."):
        if not isinstance(doc, dict) or k not in doc:
            return None
        doc = doc[k]
    return doc


docs = []
files = sorted(glob.glob(os.path.join(deploy, "kubernetes", "*.yaml")) +
               glob.glob(os.path.join(deploy, "kubernetes", "*.yml")))
if not files:
    fail("no manifests under deploy/kubernetes")
for f in files:
    name = os.path.relpath(f, root)
    try:
        loaded = [d for d in yaml.safe_load_all(open(f)) if d is not None]
    except yaml.YAMLError as e:
        fail(f"{name}: not YAML: {e}")
        continue
    for d in loaded:
        where = f"{name}: {d.get('kind')}/{get(d, 'metadata.name')}" if isinstance(d, dict) else name
        if not isinstance(d, dict):
            fail(f"{where}: a document that is not a mapping")
            continue
        for field in ("apiVersion", "kind", "metadata.name"):
            if not isinstance(get(d, field), str) or not get(d, field):
                fail(f"{where}: no {field}")
        if not re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", str(get(d, "metadata.name"))):
            fail(f"{where}: metadata.name is not a DNS name")
        schema = KINDS.get((d.get("apiVersion"), d.get("kind")))
        if schema is None:
            fail(f"{where}: apiVersion {d.get('apiVersion')} kind {d.get('kind')} is not one this test knows")
            continue
        check({k: v for k, v in d.items() if k not in ("apiVersion", "kind")}, schema, where)
        for path in REQUIRED.get(d["kind"], []):
            if get(d, path) is None:
                fail(f"{where}: no {path}")
        docs.append((where, d))


def one(kind):
    found = [(w, d) for w, d in docs if d["kind"] == kind]
    if len(found) != 1:
        fail(f"expected one {kind}, found {len(found)}")
        return None, {}
    return found[0]


_, ns = one("Namespace")
_, cm = one("ConfigMap")
_, sa = one("ServiceAccount")
dsw, ds = one("DaemonSet")
for where, d in docs:
    if d["kind"] in NAMESPACED and get(d, "metadata.namespace") != get(ns, "metadata.name"):
        fail(f"{where}: namespace {get(d, 'metadata.namespace')!r}, not the Namespace's "
             f"{get(ns, 'metadata.name')!r}")
# Files apply in the order of their names: the namespace's first.
ordered = [d["kind"] for _, d in docs]
if ordered and ordered[0] != "Namespace":
    fail(f"the Namespace is not the first manifest applied: {ordered}")

pod = get(ds, "spec.template.spec") or {}
labels = get(ds, "spec.template.metadata.labels") or {}
for k, v in (get(ds, "spec.selector.matchLabels") or {}).items():
    if labels.get(k) != v:
        fail(f"{dsw}: the selector's {k}={v} does not select the pod template")
if pod.get("serviceAccountName") != get(sa, "metadata.name"):
    fail(f"{dsw}: serviceAccountName {pod.get('serviceAccountName')!r} is not the ServiceAccount")
if pod.get("hostPID") is not True:
    fail(f"{dsw}: hostPID is not true: salved would see only its own pod's processes")
if not any(t.get("operator") == "Exists" and "key" not in t for t in pod.get("tolerations", [])):
    fail(f"{dsw}: does not tolerate every taint: some nodes would run no salved")
caps = set(re.findall(r"#define CAP_([A-Z_]+)\s+[0-9]+", open("/usr/include/linux/capability.h").read()))
volumes = {v["name"]: v for v in pod.get("volumes", [])}
for v in volumes.values():
    kinds = [k for k in ("configMap", "hostPath", "emptyDir") if k in v]
    if len(kinds) != 1:
        fail(f"{dsw}: volume {v['name']} has {len(kinds)} sources")
    ht = get(v, "hostPath.type")
    if ht is not None and ht not in ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File",
                                     "Socket", "CharDevice", "BlockDevice"):
        fail(f"{dsw}: volume {v['name']}: hostPath type {ht!r}")
    if "configMap" in v and get(v, "configMap.name") != get(cm, "metadata.name"):
        fail(f"{dsw}: volume {v['name']} names ConfigMap {get(v, 'configMap.name')!r}, which is not defined")

containers = pod.get("containers", [])
if len(containers) != 1:
    fail(f"{dsw}: expected one container, found {len(containers)}")
c = containers[0] if containers else {}
mounts = c.get("volumeMounts", [])
for m in mounts:
    if m["name"] not in volumes:
        fail(f"{dsw}: volumeMount {m['mountPath']} names volume {m['name']!r}, which is not defined")
for name in volumes:
    if name not in {m["name"] for m in mounts}:
        fail(f"{dsw}: volume {name} is mounted nowhere")
paths = [m["mountPath"] for m in mounts]
if len(set(paths)) != len(paths):
    fail(f"{dsw}: a mount path is used twice: {paths}")
sc = c.get("securityContext", {})
for cap in get(sc, "capabilities.add") or []:
    if cap.removeprefix("CAP_") not in caps:
        fail(f"{dsw}: capability {cap} is not one Linux has")
for q in [*(get(c, "resources.requests") or {}).values(), *(get(c, "resources.limits") or {}).values()]:
    if not QTY.match(str(q)):
        fail(f"{dsw}: resource quantity {q!r}")

# The image is the Containerfile's; the binaries it runs are ones the image has.
if c.get("image") not in documented:
    fail(f"{dsw}: image {c.get('image')!r} is not the one the Containerfile documents {sorted(documented)}")
command = c.get("command") or runtime.get("entrypoint") or []
args = c.get("args") if "args" in c else (runtime.get("cmd") or [])
if not command or command[0] not in image_files:
    fail(f"{dsw}: runs {command[:1]}, which the Containerfile does not put into the image "
         f"({sorted(image_files)})")
elif image_files[command[0]] != "build/salved":
    fail(f"{dsw}: runs {command[0]}, which is not salved")
help_text = open(os.path.join(work, "salved.help")).read()
for a in args:
    if a.startswith("-") and not re.search(r"(^|[\s,])" + re.escape(a.split("=")[0]) + r"\b", help_text):
        fail(f"{dsw}: salved flag {a} is not in salved --help")
# salved's own parser takes them: with --help last, it exits 0 only if all before parse.
r = subprocess.run([os.environ["SALVED"], *command[1:], *args, "--help"], capture_output=True, text=True)
if r.returncode != 0:
    fail(f"{dsw}: salved does not take its args {args}: {r.stderr.strip()}")
opts = {}
for i, a in enumerate(args):
    if a.startswith("--") and i + 1 < len(args) and not args[i + 1].startswith("--"):
        opts[a] = args[i + 1]
for flag in ("--policy", "--watch-policy"):
    if flag not in args:
        fail(f"{dsw}: salved runs without {flag}")
if "--log" in args:
    fail(f"{dsw}: --log sends the events to a file; the cluster's log pipeline reads standard output")


def mount_of(path):
    best = None
    for m in mounts:
        mp = m["mountPath"].rstrip("/")
        if path == mp or path.startswith(mp + "/"):
            if best is None or len(mp) > len(best["mountPath"].rstrip("/")):
                best = m
    return best


policy_mount = mount_of(opts.get("--policy", ""))
if policy_mount is None or policy_mount["mountPath"] != opts.get("--policy"):
    fail(f"{dsw}: --policy {opts.get('--policy')} is not where a volume is mounted")
elif "configMap" not in volumes.get(policy_mount["name"], {}):
    fail(f"{dsw}: --policy {opts.get('--policy')} is mounted from {policy_mount['name']}, not the ConfigMap")
elif "subPath" in policy_mount:
    fail(f"{dsw}: the ConfigMap is mounted with subPath, which kubelet never updates")
# The root file system is read-only: what salved writes lives on volumes.
writes = {"--state-dir": opts.get("--state-dir", "/var/lib/salve"),
          "--socket": os.path.dirname(opts.get("--socket", "/run/salve/salved.sock")),
          "--pin-dir": opts.get("--pin-dir", "/sys/fs/bpf/salve")}
for flag, path in writes.items():
    m = mount_of(path)
    if m is None or m.get("readOnly"):
        fail(f"{dsw}: {flag} {path} is on no writable volume")
if (mount_of(writes["--pin-dir"]) or {}).get("name") not in volumes or \
        get(volumes[mount_of(writes["--pin-dir"])["name"]], "hostPath.path") != "/sys/fs/bpf":
    fail(f"{dsw}: --pin-dir {writes['--pin-dir']} is not on the node's /sys/fs/bpf")
cg = mount_of("/sys/fs/cgroup")
if cg is None or get(volumes.get(cg["name"], {}), "hostPath.path") != "/sys/fs/cgroup":
    fail(f"{dsw}: the node's cgroup tree is not mounted at /sys/fs/cgroup: scopes by cgroup and unit would see the pod's")

# The probes run salvectl, with a verb and flags it takes, on salved's socket.
for probe in ("startupProbe", "livenessProbe"):
    cmd = get(c, f"{probe}.exec.command")
    if not cmd:
        fail(f"{dsw}: no {probe} command")
        continue
    if cmd[0] not in image_files or image_files[cmd[0]] != "build/salvectl":
        fail(f"{dsw}: {probe} runs {cmd[0]}, which is not the image's salvectl")
    sock = cmd[cmd.index("--socket") + 1] if "--socket" in cmd else "/run/salve/salved.sock"
    if sock != opts.get("--socket", "/run/salve/salved.sock"):
        fail(f"{dsw}: {probe} asks {sock}, salved listens on {opts.get('--socket')}")
    # Usage errors exit 2; a salved that is not there, 1.
    r = subprocess.run([os.environ["SALVECTL"], *cmd[1:-1], os.path.join(work, "no.sock")],
                       capture_output=True, text=True)
    if r.returncode != 1:
        fail(f"{dsw}: salvectl does not take {probe}'s {cmd[1:]}: exit {r.returncode}: {r.stdout}{r.stderr}")

# The ConfigMap's policies are valid, as salved will load them.
pdir = os.path.join(work, "policies.d")
os.makedirs(pdir)
for key, text in (cm.get("data") or {}).items():
    if not key.endswith(".json"):
        fail(f"ConfigMap {get(cm, 'metadata.name')}: key {key} is no *.json: salved would not read it")
    with open(os.path.join(pdir, key), "w") as f:
        f.write(text)
r = subprocess.run([os.environ["SALVECTL"], "validate", pdir], capture_output=True, text=True)
if r.returncode != 0:
    fail(f"ConfigMap {get(cm, 'metadata.name')}: salvectl validate: {r.stdout}{r.stderr}")

for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
EOF
	fail "deploy/ does not hold together (above)"
pass "the manifests parse, run what the image holds with flags salved takes, and their policies validate"
