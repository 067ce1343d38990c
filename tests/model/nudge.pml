/*
 * nudge.pml - a model of the nudger's part of doc/protocol.md, "Waiting":
 * no reader without an entry sleeps at a published position for want of
 * a wake, between the producer (lib/pub.c advance_slow(), a publisher
 * running the nudger), the nudger (lib/pub_nudge.c nudger(), lib/wait.c
 * wait_nudger_idle()) and anonymous readers (lib/wait.c poll_sleep(),
 * sleeping on nudge_seq). It models the argument, not the C code;
 * tests/model/wait.sh runs it beside wait.pml.
 *
 * Memory: x86-TSO where it matters. The producer's stores here are
 * locked instructions (a publisher running the nudger always exchanges
 * write_num; the flag's take-down is an exchange), each after its buffer
 * drained; its stamp, a plain store, may land at any moment before its
 * exchange of write_num, so a reader may read a message before the count
 * says it is there. The nudger's stores to nudge_waiting go through a
 * FIFO store buffer `nb` that `cpu` drains whenever: its clear after an
 * idle sleep is relaxed (a plain store), its set is seq_cst (a store and
 * a fence: the fence waits for the buffer); its loads read memory. The
 * readers only load. Every futex word's compare and queue is atomic with
 * the word's wakes, and a wake comes after its bump. Sleeps have no cap
 * here (the code's are 100 ms), so that a lost wake-up shows.
 *
 * The producer's wake of the anonymous sleepers when it kicks reaches
 * FIRST of them (WAKE_ANON_FIRST: 8 of however many), any of them; the
 * nudger's look wakes them all (32 and a ration: crowds are t_herd's).
 *
 * The claim, checked when nothing can move any more (`timeout`): no
 * reader asleep at a position the producer has published, and the
 * nudger not asleep past a message it has not looked at.
 *
 * Mutants, one missing ingredient each (spin -DNAME): each must fail.
 *   CHECK_FIRST  the idle nudger looks at write_num before it sets its
 *                flag (not after: its half of the Dekker pair)
 *   RELAXED_SET  the flag's set is relaxed (no fence before the look)
 *   LOAD_FIRST   the producer loads the flag before its write_num store
 *   STORE_ZERO   the producer takes the flag down with a plain store
 *                after its load, not an exchange: it may overwrite the
 *                flag of the nudger's next idle sleep
 *   LAST_ON_WAKE the nudger, kicked, takes the count as looked at
 *                without waking the sleepers (the producer wakes only
 *                the first few)
 * and one that must still hold:
 *   KEEP_FLAG    the producer leaves the flag up (before 0.2.4: every
 *                publish until the nudger ran bumped and kicked)
 */

#ifndef N
#define N 3          /* messages the producer may publish (it may stop before) */
#endif
#define R 2          /* anonymous readers */
#define FIRST 1      /* sleepers the producer's own wake reaches */

byte write_num;      /* header: next sequence to publish */
byte stamped;        /* messages whose stamp says complete */
bool nudge_waiting;  /* header: the idle nudger's flag */
byte nudge_seq;      /* header: the anonymous readers' futex word */
byte kick;           /* the nudger's private futex word */
bool nudger_asleep;  /* the nudger in FUTEX_WAIT on kick */
byte last;           /* the nudger's: the count it last woke for */
bool asleep[R];      /* reader r in FUTEX_WAIT on nudge_seq */
byte rpos[R];        /* reader r's position */

chan nb = [2] of { bool };   /* the nudger's store buffer */

/* The nudger's CPU commits its oldest buffered store. */
active proctype cpu()
{
	bool v;
end:	do
	:: atomic { nb ? v -> nudge_waiting = v; v = 0 }
	od
}

/* wake(&nudge_seq, max) (lib/wait.c): a bump, then FUTEX_WAKE of up to
 * max of the word's sleepers, any of them. */
inline wake_readers(max)
{
	atomic { nudge_seq++ };
	atomic {
		k = 0;
		do
		:: k < max && asleep[0] -> asleep[0] = 0; k++
		:: k < max && asleep[1] -> asleep[1] = 0; k++
		:: else -> break
		od;
		k = 0
	}
}

active proctype producer()
{
	byte n, k;
	bool f, got;

	do
	:: n == N -> break
	:: n < N ->
		stamped = n + 1;                 /* steps 1-3: stamp complete(n) */
		n++;
#ifdef LOAD_FIRST
		f = nudge_waiting;
#endif
		write_num = n;                   /* step 4: exchange */
#ifndef LOAD_FIRST
		f = nudge_waiting;               /* step 5: seq_cst load */
#endif
		if
		:: f ->
#if defined(STORE_ZERO)
			got = 1;
			nudge_waiting = 0;       /* a plain store, later */
#elif defined(KEEP_FLAG)
			got = 1;
#else
			atomic { got = nudge_waiting; nudge_waiting = 0 }  /* exchange */
#endif
			if
			:: got ->
				wake_readers(FIRST);     /* wait_wake_anonymous_first() */
				atomic { kick++ };       /* wait_nudger_kick(): release */
				nudger_asleep = 0        /* FUTEX_WAKE_PRIVATE of 1 */
			:: else
			fi
		:: else
		fi;
		f = 0;
		got = 0;
		if
		:: skip
		:: break                         /* no more messages */
		fi
	od
}

active proctype nudger()
{
	byte seen, w, k;

end:	do
	:: seen = kick;                          /* acquire */
		w = write_num;
		if
		:: w != last ->                  /* a look: wake_look() */
			last = w;
			wake_readers(R)
		:: else ->                       /* wait_nudger_idle() */
#ifdef CHECK_FIRST
			w = write_num;
#endif
			nb ! 1;                          /* seq_cst store: */
#ifndef RELAXED_SET
			empty(nb);                       /* its fence */
#endif
#ifndef CHECK_FIRST
			w = write_num;                   /* changed(): seq_cst */
#endif
			if
			:: w != last -> skip
			:: else ->
				atomic {
					if
					:: kick == seen -> nudger_asleep = 1
					:: else
					fi
				};
end_idle:			!nudger_asleep
			fi;
			nb ! 0;                          /* relaxed clear */
#ifdef LAST_ON_WAKE
			last = write_num
#endif
		fi;
		w = 0
	od
}

/* lib/wait.c poll_sleep() of a reader without an entry, nudged */
proctype reader(byte r)
{
	byte nseq;
	bool seen;

	do
	:: rpos[r] == N -> break
	:: rpos[r] < N ->
		if
		:: rpos[r] < stamped -> rpos[r]++       /* acquire load: complete */
		:: else ->
			nseq = nudge_seq;                /* acquire */
			seen = (write_num > rpos[r]);    /* changed(): acquire */
			if
			:: seen -> skip
			:: else ->                       /* FUTEX_WAIT(nudge_seq, nseq) */
				atomic {
					if
					:: nudge_seq == nseq -> asleep[r] = 1
					:: else
					fi
				};
end_asleep:			!asleep[r]
			fi;
			nseq = 0;
			seen = 0
		fi
	od
}

init
{
	atomic { run reader(0); run reader(1) }
}

/* When nothing can move: no reader asleep at a published position, and
 * no nudger asleep past a message. */
active proctype monitor()
{
	timeout;
	assert(!(asleep[0] && rpos[0] < write_num));
	assert(!(asleep[1] && rpos[1] < write_num));
	assert(!(nudger_asleep && last != write_num))
}
