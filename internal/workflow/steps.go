package workflow

import (
	"context"

	"github.com/evidencerelay/epack/remote"
)

// StepInstall is the step reported while a managed adapter is installed.
const StepInstall = "Installing adapter"

// Steps reports workflow steps to the caller's callback: started=true when a
// step begins, false when it succeeded. A failing step gets no completion
// call, so the error belongs to the last step that started. A nil Steps
// reports nothing.
type Steps func(step string, started bool)

// Start reports that step begins.
func (s Steps) Start(step string) {
	if s != nil {
		s(step, true)
	}
}

// Done reports that step succeeded.
func (s Steps) Done(step string) {
	if s != nil {
		s(step, false)
	}
}

// Install wraps an adapter installer so the install shows up as StepInstall.
func (s Steps) Install(install Installer) Installer {
	return ReportInstall(install, s)
}

// ReportInstall wraps an adapter installer so the install shows up as a
// workflow step.
func ReportInstall(install Installer, onStep func(string, bool)) Installer {
	return func(ctx context.Context, r *remote.Resolved) error {
		if onStep != nil {
			onStep(StepInstall, true)
		}
		err := install(ctx, r)
		if err == nil && onStep != nil {
			onStep(StepInstall, false)
		}
		return err
	}
}
