package secmem

// Wipe zeroes b, for secrets held outside an arena (a stack buffer, a slice
// a library returned). The gc compiler never removes a clear of memory it
// cannot prove unobserved, and a slice argument to a function that is not
// inlined is always observable to it; noinline keeps it that way even if
// escape analysis grows smarter at a call site. Wipe cannot reach copies b
// never knew about.
//
//go:noinline
func Wipe(b []byte) {
	clear(b)
}
