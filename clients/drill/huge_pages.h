// Replay touches a lot of fresh memory (the engine's offer records, its client-id index,
// the journal segments); with 4 KiB pages a third of the time goes to page faults and TLB
// misses. glibc 2.35+ can back malloc with transparent huge pages (the tunable
// glibc.malloc.hugetlb=1, which madvise()s its mappings), but tunables are read only at
// process start. EnableHugePageMalloc re-executes the program once with the tunable set.
//
// Thread-safety: call first thing in main(), before any thread starts.
#ifndef MSX_CLIENTS_DRILL_HUGE_PAGES_H_
#define MSX_CLIENTS_DRILL_HUGE_PAGES_H_

namespace msx::drill {

// If GLIBC_TUNABLES does not yet mention glibc.malloc.hugetlb and MSX_DRILL_NO_HUGE_PAGES
// is unset, appends glibc.malloc.hugetlb=1 to it and execv()s /proc/self/exe with the same
// arguments. Returns only if nothing was done or the exec failed (the program then simply
// runs with normal pages). Harmless where transparent huge pages are disabled.
void EnableHugePageMalloc(char** argv);

}  // namespace msx::drill

#endif  // MSX_CLIENTS_DRILL_HUGE_PAGES_H_
