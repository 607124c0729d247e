/*
 * signals.c - the signal thread: SIGUSR1 starts a merge of the store.
 *
 * Signals are never worked on inside a handler: the main thread blocks
 * SIGUSR1 before any other thread exists (signals_block), so every thread
 * inherits the blocked mask and the signal stays pending until this
 * thread's sigwait() takes it. SIGTERM/SIGINT/SIGHUP are libfuse's
 * (fuse_set_signal_handlers: they end the session loop) while it runs,
 * and ignored after it (signals_ignore_stop), while the store is closed.
 *
 * Threads: one thread of its own. stopping is written by the main thread
 * before it wakes this thread for the last time (with SIGUSR1 sent by
 * pthread_kill) and joins it.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "daemon.h"

static pthread_t sig_thread;
static bool started;
static atomic_bool stopping;

static sigset_t usr1_set(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	return set;
}

int signals_block(void)
{
	sigset_t set = usr1_set();

	return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void *sig_main(void *arg)
{
	struct fs *fs = arg;
	sigset_t set = usr1_set();

	for (;;) {
		int sig;

		if (sigwait(&set, &sig) != 0)
			continue;
		if (atomic_load(&stopping))
			break;
		int rc = fs_merge_start(fs);
		if (rc == 0)
			log_msg(LOG_INFO, "SIGUSR1: merge started");
		else if (rc == -EBUSY)
			log_msg(LOG_INFO,
				"SIGUSR1: a merge is already running");
		else
			log_msg(LOG_WARNING, "SIGUSR1: merge not started: %s",
				strerror(-rc));
	}
	return NULL;
}

int signals_start(struct fs *fs)
{
	int rc = pthread_create(&sig_thread, NULL, sig_main, fs);

	if (rc)
		return -rc;
	started = true;
	return 0;
}

void signals_stop(void)
{
	if (!started)
		return;
	atomic_store(&stopping, true);
	pthread_kill(sig_thread, SIGUSR1);
	pthread_join(sig_thread, NULL);
	started = false;
}

void signals_ignore_stop(void)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	struct sigaction sa = {.sa_handler = SIG_IGN};

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}
