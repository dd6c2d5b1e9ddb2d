/* options: salved's command line, parsed into struct options. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "actions/checkpoints.h"
#include "ctl/ctl.h"
#include "ctl/http.h"
#include "engine/engine.h"
#include "salved.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: salved [OPTION]...\n"
		"Watch processes for faults with eBPF and report them as JSON lines.\n\n"
		"  --policy PATH         policy file, or directory of *.json (default /etc/salve/policies.d)\n"
		"  --watch-policy        reload the policy when its files change (inotify on the\n"
		"                        --policy directory, or the one holding the --policy file;\n"
		"                        a Kubernetes ConfigMap's update included), half a second\n"
		"                        after the last change, as 'salvectl reload' does\n"
		"  --log FILE            append events to FILE (default: standard output)\n"
		"  --state-dir DIR       where salved keeps its journal and checkpoints\n"
		"                        (default /var/lib/salve)\n"
		"  --checkpoint-quota SIZE\n"
		"                        disk all checkpoints may take together, such as 512MiB\n"
		"                        or 4GiB (default 4GiB; the file system keeps 5%% free)\n"
		"  --criu PATH           the criu binary (4.2 or later) checkpoints may use, checked\n"
		"                        at start (default /usr/sbin/criu)\n"
		"  --pin-dir DIR         bpffs directory for pinned programs and maps\n"
		"                        (default /sys/fs/bpf/salve)\n"
		"  --socket PATH         control socket for salvectl (default " CTL_SOCKET_DEFAULT ")\n"
		"  --socket-group NAME|GID\n"
		"                        answer this group's members on the control socket too:\n"
		"                        the socket becomes that group's, mode 0660 (default: root\n"
		"                        only, mode 0600)\n"
		"  --dry-run             log what actions would do, change no process\n"
		"  --rate N[/BURST]      records per second per process and kind (default 100/200;\n"
		"                        0 = unlimited)\n"
		"  --stats-interval SEC  write a stats line every SEC seconds (default 60; 0 = at exit)\n"
		"  --max-groups N        per rule, the processes or binaries counted at once; one\n"
		"                        not seen of late is forgotten past it (default 4096)\n"
		"  --classic-tracepoints use classic tracepoints even where BTF ones load\n"
		"  --no-uprobe-sessions  time latency probes with a uprobe and a uretprobe even\n"
		"                        where the kernel has uprobe session programs\n"
		"  --no-register-writes  override functions by hot patch even where the kernel\n"
		"                        lets uprobe programs write the registers\n"
		"  --metrics-textfile PATH\n"
		"                        write the metrics page (Prometheus text format) to PATH,\n"
		"                        replaced whole every --metrics-interval, for node_exporter's\n"
		"                        textfile collector (name it *.prom); removed at stop\n"
		"  --metrics-interval SEC\n"
		"                        how often --metrics-textfile is written (default 15)\n"
		"  --metrics-listen ADDRESS:PORT\n"
		"                        serve the metrics page over HTTP at /metrics, such as\n"
		"                        127.0.0.1:9477 or [::1]:9477 (default: no listener)\n"
		"  -v, --verbose         debug logging, libbpf's included\n"
		"  --version             print the version\n"
		"  -h, --help            print this help\n\n"
		"Signals: INT and TERM stop salved cleanly, HUP reloads the policy (as\n"
		"'salvectl reload' does).\n");
}

static int parse_unsigned(const char *s, const char *what, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > 1000000000) {
		fprintf(stderr, "salved: %s: expected a whole number, got '%s'\n", what, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int options_parse(int argc, char **argv, struct options *o)
{
	enum { OPT_POLICY = 256, OPT_LOG, OPT_STATE, OPT_PIN, OPT_SOCKET, OPT_DRY, OPT_RATE,
	       OPT_STATS, OPT_GROUPS, OPT_CLASSIC, OPT_NO_SESSIONS, OPT_NO_REGWRITE, OPT_VERSION, OPT_SOCKET_GROUP,
	       OPT_CHECKPOINT_QUOTA, OPT_CRIU, OPT_METRICS_TEXTFILE, OPT_METRICS_INTERVAL,
	       OPT_METRICS_LISTEN, OPT_WATCH_POLICY };
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "watch-policy", no_argument, NULL, OPT_WATCH_POLICY },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "state-dir", required_argument, NULL, OPT_STATE },
		{ "checkpoint-quota", required_argument, NULL, OPT_CHECKPOINT_QUOTA },
		{ "criu", required_argument, NULL, OPT_CRIU },
		{ "pin-dir", required_argument, NULL, OPT_PIN },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
		{ "dry-run", no_argument, NULL, OPT_DRY },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "stats-interval", required_argument, NULL, OPT_STATS },
		{ "max-groups", required_argument, NULL, OPT_GROUPS },
		{ "classic-tracepoints", no_argument, NULL, OPT_CLASSIC },
		{ "no-uprobe-sessions", no_argument, NULL, OPT_NO_SESSIONS },
		{ "no-register-writes", no_argument, NULL, OPT_NO_REGWRITE },
		{ "metrics-textfile", required_argument, NULL, OPT_METRICS_TEXTFILE },
		{ "metrics-interval", required_argument, NULL, OPT_METRICS_INTERVAL },
		{ "metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*o = (struct options){ .policy = "/etc/salve/policies.d", .state_dir = "/var/lib/salve",
			       .pin_dir = "/sys/fs/bpf/salve", .socket = CTL_SOCKET_DEFAULT, .rate = 100, .burst = 200,
			       .stats_every = 60, .max_groups = ENGINE_MAX_GROUPS_DEFAULT,
			       .socket_group = CTL_NO_GROUP,
			       .checkpoint_quota = CHECKPOINT_QUOTA_DEFAULT,
			       .criu = "/usr/sbin/criu", .metrics_every = 15 };
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		char *slash;

		switch (c) {
		case OPT_POLICY: o->policy = optarg; break;
		case OPT_WATCH_POLICY: o->watch_policy = true; break;
		case OPT_LOG: o->log = optarg; break;
		case OPT_STATE: o->state_dir = optarg; break;
		case OPT_CRIU: o->criu = optarg; break;
		case OPT_CHECKPOINT_QUOTA:
			if (policy_size_bytes(optarg, strlen(optarg), &o->checkpoint_quota) ||
			    !o->checkpoint_quota) {
				fprintf(stderr, "salved: --checkpoint-quota: expected a size such as "
					"512MiB or 4GiB, got '%s'\n", optarg);
				return 2;
			}
			break;
		case OPT_PIN: o->pin_dir = optarg; break;
		case OPT_SOCKET: o->socket = optarg; break;
		case OPT_SOCKET_GROUP:
			if (ctl_group_parse(optarg, &o->socket_group)) {
				fprintf(stderr, "salved: --socket-group: no group '%s'\n", optarg);
				return 2;
			}
			break;
		case OPT_DRY: o->dry_run = true; break;
		case OPT_CLASSIC: o->classic = true; break;
		case OPT_NO_SESSIONS: o->no_sessions = true; break;
		case OPT_NO_REGWRITE: o->no_regwrite = true; break;
		case OPT_METRICS_TEXTFILE: o->metrics_textfile = optarg; break;
		case OPT_METRICS_INTERVAL:
			if (parse_unsigned(optarg, "--metrics-interval", &o->metrics_every))
				return 2;
			if (!o->metrics_every) {
				fprintf(stderr, "salved: --metrics-interval: at least 1 second\n");
				return 2;
			}
			break;
		case OPT_METRICS_LISTEN: {
			struct sockaddr_storage sa;
			socklen_t len;

			if (http_parse_address(optarg, &sa, &len)) {
				fprintf(stderr, "salved: --metrics-listen: expected ADDRESS:PORT with a "
					"numeric address, such as 127.0.0.1:9477 or [::1]:9477, got '%s'\n",
					optarg);
				return 2;
			}
			o->metrics_listen = optarg;
			break;
		}
		case 'v': o->verbose = true; break;
		case OPT_RATE:
			slash = strchr(optarg, '/');
			if (slash) {
				*slash = 0;
				if (parse_unsigned(slash + 1, "--rate burst", &o->burst))
					return 2;
			}
			if (parse_unsigned(optarg, "--rate", &o->rate))
				return 2;
			if (!slash)
				o->burst = o->rate * 2;
			break;
		case OPT_STATS:
			if (parse_unsigned(optarg, "--stats-interval", &o->stats_every))
				return 2;
			break;
		case OPT_GROUPS:
			if (parse_unsigned(optarg, "--max-groups", &o->max_groups))
				return 2;
			if (!o->max_groups) {
				fprintf(stderr, "salved: --max-groups: at least 1\n");
				return 2;
			}
			break;
		case OPT_VERSION:
			printf("salved %s\n", SALVE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "salved: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1; /* go on */
}
