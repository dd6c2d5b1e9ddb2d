/* What every salve BPF object starts with. */
#ifndef SALVE_BPF_H
#define SALVE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "events.bpf.h"
#include "scope.bpf.h"
#include "stack.bpf.h"

#endif
