/*
 * wait.pml - a model of the argument of doc/protocol.md, "Waiting": no
 * lost wake-up between a reader going to sleep on the futex and the
 * producer deciding whether to wake it, with the 4.0 arming. It models
 * the argument, not the C code (lib/pub.c advance(), lib/wait.c
 * sleep_on(), lib/consumers.c disarm()); tests/model/wait.sh runs it.
 *
 * Memory: x86-TSO. The producer's plain stores (the stamps, write_num
 * while no reader may sleep) go through a FIFO store buffer `sb` that
 * the process `cpu` drains one store at a time, whenever; a locked
 * instruction or a fence waits until it is empty. Loads read memory:
 * the producer never loads what it stores plainly, so no forwarding.
 * Readers need no store buffer: each of their plain stores (armed flag)
 * is followed by a locked instruction before their next load, so the
 * moment it leaves the buffer is just the moment of that step.
 *
 * The claim, checked when nothing can move any more (`timeout`): no
 * reader sleeps at a position the producer has published. The producer
 * stops after any publish, so a wake-up lost for any message (not only
 * the last) ends the run with its reader asleep.
 *
 * The arm's settle (lib/wait.c arm()): the reader's sleeps end within 1
 * ms of its bump of armed_seq, by which time the stores in the producer's
 * buffer at the bump have left it (the argument's one assumption about
 * time): a sleep of the settle may end at its cap once the buffer was
 * empty at some moment since the bump (drained[r]: later than the C
 * argument needs, which is that the stores there at the bump left it),
 * and the settle ends with such a sleep or at the next arm() after it
 * could; a sleep begun after that may be long. Anyone's FUTEX_WAKE may
 * cut a sleep of the settle short.
 *
 * Mutants, one missing ingredient each (spin -DNAME): each must fail.
 *   NO_SETTLE        the reader's arming is not followed by short sleeps
 *                    (nor by the membarrier(GLOBAL) that did the job before)
 *   SETTLE_FIRST     only the first sleep after the arm is short: one cut
 *                    short ends the settle
 *   LOAD_FIRST       the producer loads armed_seq before its write_num store
 *   NO_FENCE         no full fence after armed_moved() turned may_sleep on
 *   CHECK_FIRST      the reader looks at write_num before announcing itself
 *                    (not after, the reader's half of the Dekker pair)
 *   PLAIN_STORE      write_num a plain store even while readers may sleep
 * and one that must still hold:
 *   NO_RECOUNT_FENCE no fence after a recount() in advance() turned
 *                    may_sleep on: it does so only for a flag whose bump
 *                    came after this publish's load of armed_seq (or has
 *                    not come yet), so the arming reader's settle, which
 *                    follows the bump, covers this publish already.
 */

#ifndef N
#define N 3          /* messages the producer may publish (it may stop before),
                        one at a time or in batches of two */
#endif
#define R 2          /* readers; reader R-1 may close at any time */
#define WN 16        /* store-buffer entry WN + v: write_num = v; else n: stamp n complete */

byte write_num;      /* header: next sequence to publish */
bool stamp[N];       /* slot stamps: complete(n) */
byte wake_seq;       /* the futex word */
byte waiters;        /* table: count of announced readers */
byte armed_seq;      /* table: bumped after an armed flag was set or cleared */
bool armed[R];       /* entries' armed flags */
bool asleep[R];      /* reader r in FUTEX_WAIT on wake_seq */
byte rpos[R];        /* reader r's position */
bool settle[R];      /* reader r's arm settles: its sleeps are short */
bool drained[R];     /* the buffer was empty at some moment since r's bump */

chan sb = [2 * N] of { byte };   /* the producer's store buffer */

/* The producer's CPU commits its oldest buffered store. */
active proctype cpu()
{
	byte e;
end:	do
	:: atomic {
		sb ? e ->
		if
		:: e >= WN -> write_num = e - WN
		:: else -> stamp[e] = 1
		fi;
		if
		:: len(sb) == 0 -> drained[0] = settle[0]; drained[1] = settle[1]
		:: else
		fi;
		e = 0
	   }
	od
}

/* lib/pub.c recount(): armed_seen from a fresh load, the flags counted
 * after it (TSO keeps the loads in order: the acquire fence). */
inline recount()
{
	before = may_sleep;
	armed_seen = armed_seq;
	cnt = armed[0];
	cnt = cnt + armed[1];
	may_sleep = (cnt != 0);
	cnt = 0
}

/* A full fence, and the locked instructions' wait for the buffer. */
#define fence()	empty(sb)

/* lib/wait.c wake(): a locked increment, then FUTEX_WAKE of every sleeper
 * on the word (the futex code serialises it with FUTEX_WAIT's check). */
inline wake()
{
	atomic { fence() -> wake_seq++ };
	atomic { asleep[0] = 0; asleep[1] = 0 }
}

active proctype producer()
{
	byte n, seq_now, armed_seen, cnt;
	bool may_sleep, before;

	/* the open's recount(): nothing armed yet */
	do
	:: n == N -> break
	:: n < N ->
		sb ! n;                          /* step 3: stamp complete(n), release */
		n++;
		if
		:: n < N -> sb ! n; n++          /* a batch of two: steps 1-3 each */
		:: skip
		fi;
#ifdef LOAD_FIRST
		seq_now = armed_seq;
#endif
		/* step 4 */
#ifndef PLAIN_STORE
		if
		:: may_sleep -> atomic { fence() -> write_num = n }  /* exchange */
		:: else -> sb ! WN + n                               /* release store */
		fi;
#else
		sb ! WN + n;
#endif
#ifndef LOAD_FIRST
		seq_now = armed_seq;             /* relaxed, after a compiler barrier */
#endif
		if
		:: seq_now != armed_seen ->        /* armed_moved() */
			before = may_sleep;
			armed_seen = seq_now;
			may_sleep = 1;
#ifndef NO_FENCE
			if
			:: !before -> fence()
			:: else
			fi
#endif
		:: else ->                       /* RECOUNT_EVERY: at any publish */
			if
			:: recount();
#ifndef NO_RECOUNT_FENCE
				if
				:: may_sleep && !before -> fence()
				:: else
				fi
#endif
			:: skip
			fi
		fi;
		before = 0;
		seq_now = 0;
		/* step 5: seq_cst load of waiters */
		if
		:: may_sleep && waiters != 0 -> wake()
		:: else
		fi;
		if
		:: recount(); before = 0         /* heartbeat or reap, between publishes */
		:: skip
		fi;
		if
		:: skip
		:: break                         /* no more messages */
		fi
	od
}

/* lib/wait.c sleep_on() */
inline sleep_on()
{
	if
	:: !armed[r] ->                      /* arm(): relaxed load of our flag */
		armed[r] = 1;                    /* relaxed store */
		atomic {
			armed_seq++;             /* seq_cst fetch_add */
#ifndef NO_SETTLE
			settle[r] = 1;           /* its sleeps end by the buffer's */
			drained[r] = (len(sb) == 0)
#endif
		}
	:: else
	fi;
	if                                   /* arm(): the settle's 1 ms over, */
	:: settle[r] && drained[r] -> settle[r] = 0; drained[r] = 0  /* as soon as may be */
	:: else
	fi;
#ifdef CHECK_FIRST
	seen = (write_num > rpos[r]);
#endif
	waiters++;                           /* announce_waiter(): seq_cst */
	seq = wake_seq;                      /* acquire */
#ifndef CHECK_FIRST
	seen = (write_num > rpos[r]);        /* changed(): seq_cst */
#endif
	if
	:: seen -> skip
	:: else ->                           /* FUTEX_WAIT(wake_seq, seq) */
		atomic {
			if
			:: wake_seq == seq -> asleep[r] = 1
			:: else
			fi
		};
		if
		:: settle[r] ->                  /* capped: woken, cut short or its end */
			if
			:: !asleep[r]
			:: asleep[r] = 0         /* anyone's FUTEX_WAKE */
			:: drained[r] -> asleep[r] = 0; settle[r] = 0; drained[r] = 0
			fi;
#ifdef SETTLE_FIRST
			settle[r] = 0; drained[r] = 0
#endif
		:: else ->
end_asleep:		!asleep[r]
		fi
	fi;
	waiters--;                           /* retire_waiter() */
	seen = 0;
	seq = 0
}

proctype reader(byte r)
{
	byte seq;
	bool seen, was;

	do
	:: rpos[r] == N -> break
	:: rpos[r] < N ->
		if
		:: stamp[rpos[r]] -> rpos[r]++   /* acquire load: complete */
		:: else -> sleep_on()
		fi
	:: r == R - 1 && rpos[r] < N -> break  /* mdbus_sub_close() at any time */
	od;
	/* close: consumers.c disarm() */
	atomic { was = armed[r]; armed[r] = 0 };
	if
	:: was -> armed_seq++
	:: else
	fi
}

init
{
	atomic { run reader(0); run reader(1) }
}

/* When nothing can move: no reader asleep at a published position. */
active proctype monitor()
{
	timeout;
	assert(!(asleep[0] && rpos[0] < write_num));
	assert(!(asleep[1] && rpos[1] < write_num))
}
