// SPDX-License-Identifier: GPL-2.0
/*
 * vCPUs: creation, one thread each, and the phase handshake with the main
 * thread.  A phase is "every vCPU runs until its guest says done with an
 * `out` to KL_DONE_PORT"; the main thread only touches dirty logging while
 * all vCPUs sit outside KVM_RUN, so every dirty page is attributable to one
 * phase.  vCPU threads never print or exit: a failure is stored in the vCPU
 * and turned into the error exit by the main thread.
 */
#include "kvmload.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* The watchdog's kick: its only job is to make KVM_RUN return EINTR. */
#define KL_KICK_SIGNAL SIGUSR1

struct kl_phase_ctl {
	pthread_mutex_t lock;
	pthread_cond_t go;	/* main -> vCPUs: generation bumped or quit */
	pthread_cond_t done;	/* vCPUs -> main: one more finished */
	unsigned long seq;	/* phase sequence number, 0 = none yet */
	unsigned int finished;	/* vCPUs done with phase `seq` (or ready) */
	bool quit;
	/* The phase ran past --phase-timeout: a vCPU that KVM_RUN returns
	 * EINTR to (the main thread's kick) reports where its guest is. */
	bool stuck;
	unsigned int timeout_s;
	size_t run_size;
	const struct kl_phase *phase;
	struct kl_vcpu *vcpus;
	unsigned int n;
};

__attribute__((format(printf, 2, 3)))
static void vcpu_error(struct kl_vcpu *v, const char *fmt, ...)
{
	va_list ap;
	int len = snprintf(v->error, sizeof(v->error), "vCPU %u: ", v->index);

	va_start(ap, fmt);
	vsnprintf(v->error + len, sizeof(v->error) - (size_t)len, fmt, ap);
	va_end(ap);
}

static const char *exit_name(uint32_t reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "KVM_EXIT_UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "KVM_EXIT_EXCEPTION",
		[KVM_EXIT_IO] = "KVM_EXIT_IO",
		[KVM_EXIT_HYPERCALL] = "KVM_EXIT_HYPERCALL",
		[KVM_EXIT_DEBUG] = "KVM_EXIT_DEBUG",
		[KVM_EXIT_HLT] = "KVM_EXIT_HLT",
		[KVM_EXIT_MMIO] = "KVM_EXIT_MMIO",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "KVM_EXIT_IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "KVM_EXIT_SHUTDOWN",
		[KVM_EXIT_FAIL_ENTRY] = "KVM_EXIT_FAIL_ENTRY",
		[KVM_EXIT_INTR] = "KVM_EXIT_INTR",
		[KVM_EXIT_SET_TPR] = "KVM_EXIT_SET_TPR",
		[KVM_EXIT_TPR_ACCESS] = "KVM_EXIT_TPR_ACCESS",
		[KVM_EXIT_NMI] = "KVM_EXIT_NMI",
		[KVM_EXIT_INTERNAL_ERROR] = "KVM_EXIT_INTERNAL_ERROR",
		[KVM_EXIT_SYSTEM_EVENT] = "KVM_EXIT_SYSTEM_EVENT",
		[KVM_EXIT_X86_RDMSR] = "KVM_EXIT_X86_RDMSR",
		[KVM_EXIT_X86_WRMSR] = "KVM_EXIT_X86_WRMSR",
		[KVM_EXIT_DIRTY_RING_FULL] = "KVM_EXIT_DIRTY_RING_FULL",
		[KVM_EXIT_X86_BUS_LOCK] = "KVM_EXIT_X86_BUS_LOCK",
		[KVM_EXIT_NOTIFY] = "KVM_EXIT_NOTIFY",
	};

	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "unknown exit reason";
}

static uint64_t guest_rip(const struct kl_vcpu *v)
{
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0)
		return ~0ULL;
	return regs.rip;
}

/* Describe an exit that is not our done signal; details per exit type. */
static void unexpected_exit(struct kl_vcpu *v, const struct kl_phase *ph)
{
	const struct kvm_run *r = v->run;
	char detail[256] = "";
	char where[48];

	kl_phase_label(ph, where, sizeof(where));

	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		snprintf(detail, sizeof(detail),
			 "%s port 0x%x size %u count %u",
			 r->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
			 r->io.port, r->io.size, r->io.count);
		break;
	case KVM_EXIT_MMIO:
		snprintf(detail, sizeof(detail),
			 "%s of %u bytes at unbacked gpa 0x%llx",
			 r->mmio.is_write ? "write" : "read", r->mmio.len,
			 (unsigned long long)r->mmio.phys_addr);
		break;
	case KVM_EXIT_SHUTDOWN:
		snprintf(detail, sizeof(detail), "guest triple fault");
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(detail, sizeof(detail),
			 "hardware_entry_failure_reason 0x%llx on cpu %u",
			 (unsigned long long)r->fail_entry.hardware_entry_failure_reason,
			 r->fail_entry.cpu);
		break;
	case KVM_EXIT_INTERNAL_ERROR: {
		int len = snprintf(detail, sizeof(detail), "suberror %u",
				   r->internal.suberror);
		uint32_t i;

		for (i = 0; i < r->internal.ndata && i < 16 && len > 0 &&
			    (size_t)len < sizeof(detail); i++)
			len += snprintf(detail + len, sizeof(detail) - (size_t)len,
					"%s0x%llx", i ? " " : ", data ",
					(unsigned long long)r->internal.data[i]);
		break;
	}
	case KVM_EXIT_SYSTEM_EVENT:
		snprintf(detail, sizeof(detail), "type %u", r->system_event.type);
		break;
	default:
		break;
	}
	vcpu_error(v, "KVM_RUN: unexpected exit reason %u (%s)%s%s at rip 0x%llx during %s",
		   r->exit_reason, exit_name(r->exit_reason), detail[0] ? ": " : "",
		   detail, (unsigned long long)guest_rip(v), where);
}

/* Run until the guest's done `out`; on anything else set v->error. */
static void run_phase(struct kl_vcpu *v, const struct kl_phase *ph)
{
	v->stats = (struct kl_vcpu_stats){ 0 };
	for (;;) {
		uint64_t t0 = kl_now_ns(), t1;
		int r = ioctl(v->fd, KVM_RUN, 0);
		int err = errno;

		t1 = kl_now_ns();
		if (!v->stats.run_calls)
			v->stats.ts_ns = t0;
		v->stats.run_calls++;
		v->stats.run_ns += t1 - t0;
		v->stats.end_ns = t1;
		if (r < 0) {
			char where[48];

			if (err == EINTR && __atomic_load_n(&v->ctl->stuck, __ATOMIC_ACQUIRE)) {
				vcpu_error(v, "%s did not finish within %u s: %u KVM_RUN calls, %u port I/O exits, guest at rip 0x%llx",
					   kl_phase_label(ph, where, sizeof(where)),
					   v->ctl->timeout_s, v->stats.run_calls,
					   v->stats.io_exits,
					   (unsigned long long)guest_rip(v));
				return;
			}
			/* A signal or pending request: just enter again. */
			if (err == EINTR || err == EAGAIN)
				continue;
			vcpu_error(v, "KVM_RUN failed: %s", strerror(err));
			return;
		}
		if (v->run->exit_reason == KVM_EXIT_INTR)
			continue;
		if (v->run->exit_reason == KVM_EXIT_IO &&
		    v->run->io.direction == KVM_EXIT_IO_OUT &&
		    v->run->io.port == KL_IO_PORT && v->run->io.size == 1 &&
		    v->run->io.count == 1 &&
		    v->stats.io_exits < v->params->io_exits) {
			v->stats.io_exits++;
			continue;
		}
		if (v->run->exit_reason == KVM_EXIT_IO &&
		    v->run->io.direction == KVM_EXIT_IO_OUT &&
		    v->run->io.port == KL_DONE_PORT && v->run->io.size == 1 &&
		    v->run->io.count == 1)
			return;
		unexpected_exit(v, ph);
		return;
	}
}

static void *vcpu_thread(void *arg)
{
	struct kl_vcpu *v = arg;
	struct kl_phase_ctl *c = v->ctl;
	unsigned long seen = 0;

	v->tid = gettid();
	pthread_mutex_lock(&c->lock);
	c->finished++;		/* "ready": the main thread wants our tid */
	pthread_cond_signal(&c->done);
	for (;;) {
		const struct kl_phase *ph;

		while (c->seq == seen && !c->quit)
			pthread_cond_wait(&c->go, &c->lock);
		if (c->quit)
			break;
		seen = c->seq;
		ph = c->phase;
		pthread_mutex_unlock(&c->lock);

		/* After a failure, stay out of the guest but keep the handshake. */
		if (!v->error[0])
			run_phase(v, ph);

		pthread_mutex_lock(&c->lock);
		v->done_seq = seen;
		c->finished++;
		pthread_cond_signal(&c->done);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Wait until every vCPU finished, at most timeout_s (0: no limit); false
 * if some did not. */
static bool wait_finished(struct kl_phase_ctl *c, unsigned int timeout_s)
{
	struct timespec deadline;
	bool all;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_s;
	pthread_mutex_lock(&c->lock);
	while (c->finished < c->n) {
		if (!timeout_s)
			pthread_cond_wait(&c->done, &c->lock);
		else if (pthread_cond_timedwait(&c->done, &c->lock, &deadline) == ETIMEDOUT)
			break;
	}
	all = c->finished == c->n;
	pthread_mutex_unlock(&c->lock);
	return all;
}

static void kick_handler(int sig)
{
	(void)sig;
}

/*
 * A phase ran past --phase-timeout: kick the vCPUs still in it out of
 * KVM_RUN so each says where its guest is, and fail with the first one's
 * words.  A hang in the lab then ends as an error naming the vCPU, the
 * phase and the guest's rip, not as the lab's timeout with nothing said.
 */
static void __attribute__((noreturn)) phase_timed_out(struct kl_phase_ctl *c)
{
	unsigned int i, late = 0;

	pthread_mutex_lock(&c->lock);
	__atomic_store_n(&c->stuck, true, __ATOMIC_RELEASE);
	for (i = 0; i < c->n; i++)
		if (c->vcpus[i].done_seq != c->seq) {
			late++;
			/* immediate_exit: a kick that lands just before
			 * KVM_RUN still makes it return EINTR. */
			c->vcpus[i].run->immediate_exit = 1;
			pthread_kill(c->vcpus[i].thread, KL_KICK_SIGNAL);
		}
	pthread_mutex_unlock(&c->lock);
	if (!wait_finished(c, 10))
		kl_fail("%u of %u vCPUs did not finish a phase within %u s and stayed in KVM_RUN when signalled",
			late, c->n, c->timeout_s);
	for (i = 0; i < c->n; i++)
		if (c->vcpus[i].error[0])
			kl_fail("%s (%u of %u vCPUs late)", c->vcpus[i].error, late, c->n);
	kl_fail("a phase took longer than %u s", c->timeout_s);
}

static void vcpu_create(struct kl_vm *vm, struct kl_vcpu *v, unsigned int index)
{
	v->index = index;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0)
		kl_fail("KVM_CREATE_VCPU %u failed: %s", index, strerror(errno));
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->fd, 0);
	if (v->run == MAP_FAILED)
		kl_fail("vCPU %u: mmap of kvm_run failed: %s", index,
			strerror(errno));
	/* Give the guest the host's CPUID like any VMM; KVM's defaults are odd. */
	if (ioctl(v->fd, KVM_SET_CPUID2, vm->cpuid) < 0)
		kl_fail("vCPU %u: KVM_SET_CPUID2 failed: %s", index,
			strerror(errno));
	kl_guest_setup_vcpu(v->fd, index, vm->paging);
	v->params = kl_guest_params(vm->code_hva, index);
}

/* Create n vCPUs, each owning an equal consecutive share of test memory. */
struct kl_phase_ctl *kl_vcpus_start(struct kl_vm *vm, struct kl_vcpu *vcpus,
				    unsigned int n, unsigned int timeout_s)
{
	struct kl_phase_ctl *c = calloc(1, sizeof(*c));
	uint64_t share = vm->total_pages / n;
	struct sigaction kick = { .sa_handler = kick_handler };
	pthread_condattr_t monotonic;
	unsigned int i;
	int err;

	if (!c)
		kl_fail("out of memory for vCPU control");
	/* No SA_RESTART: the kick must end KVM_RUN with EINTR. */
	sigemptyset(&kick.sa_mask);
	sigaction(KL_KICK_SIGNAL, &kick, NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->go, NULL);
	pthread_condattr_init(&monotonic);
	pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
	pthread_cond_init(&c->done, &monotonic);
	pthread_condattr_destroy(&monotonic);
	c->timeout_s = timeout_s;
	c->vcpus = vcpus;
	c->n = n;
	c->run_size = vm->run_size;

	for (i = 0; i < n; i++) {
		struct kl_vcpu *v = &vcpus[i];

		vcpu_create(vm, v, i);
		v->share_first_page = i * share;
		v->share_npages = share;
		v->params->base_gpa = (uint32_t)(KL_TEST_GPA +
						 v->share_first_page * KL_PAGE_SIZE);
		v->params->npages = (uint32_t)share;
		v->ctl = c;
	}
	for (i = 0; i < n; i++) {
		err = pthread_create(&vcpus[i].thread, NULL, vcpu_thread, &vcpus[i]);
		if (err)
			kl_fail("pthread_create for vCPU %u failed: %s", i,
				strerror(err));
	}
	wait_finished(c, 0);
	return c;
}

/*
 * Start the phase on all vCPUs and wait for all of them.  Guest parameters
 * must be written before; the mutex orders those stores before KVM_RUN.
 */
void kl_vcpus_run_phase(struct kl_phase_ctl *c, const struct kl_phase *ph)
{
	unsigned int i;

	pthread_mutex_lock(&c->lock);
	c->phase = ph;
	c->finished = 0;
	c->seq++;
	pthread_cond_broadcast(&c->go);
	pthread_mutex_unlock(&c->lock);
	if (!wait_finished(c, c->timeout_s))
		phase_timed_out(c);

	for (i = 0; i < c->n; i++)
		if (c->vcpus[i].error[0])
			kl_fail("%s", c->vcpus[i].error);
}

void kl_vcpus_stop(struct kl_phase_ctl *c)
{
	unsigned int i;

	pthread_mutex_lock(&c->lock);
	c->quit = true;
	pthread_cond_broadcast(&c->go);
	pthread_mutex_unlock(&c->lock);
	for (i = 0; i < c->n; i++) {
		pthread_join(c->vcpus[i].thread, NULL);
		munmap(c->vcpus[i].run, c->run_size);
		close(c->vcpus[i].fd);
	}
	pthread_cond_destroy(&c->go);
	pthread_cond_destroy(&c->done);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
