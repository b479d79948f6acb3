//go:build !linux

package netrun

// MaybeHelper does nothing outside Linux: the runner needs Linux namespaces.
func MaybeHelper() {}
