package dashboard

import "errors"

// Sentinel errors.
var (
	// ErrBadOption wraps every invalid option value New rejects.
	ErrBadOption = errors.New("dashboard: invalid option")
	// ErrClosed is returned by calls made after Close.
	ErrClosed = errors.New("dashboard: closed")
	// ErrBadSource wraps an invalid Source given to Attach.
	ErrBadSource = errors.New("dashboard: invalid source")
	// ErrStarted is returned by a second Start.
	ErrStarted = errors.New("dashboard: already started")
)
