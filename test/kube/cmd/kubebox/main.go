// kubebox is one binary for the Kubernetes control plane of the test box (scripts/kube.sh):
// kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from k8s.io/kubernetes and
// kwok (the stand-in kubelets) from sigs.k8s.io/kwok, chosen by the first argument, as hyperkube
// once was. One binary links once: on a 2-core
// machine each link of these programs costs a minute or more.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/component-base/cli"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kwokconfig "sigs.k8s.io/kwok/pkg/config"
	kwokcmd "sigs.k8s.io/kwok/pkg/kwok/cmd"
	kwoklog "sigs.k8s.io/kwok/pkg/log"
	"sigs.k8s.io/kwok/pkg/utils/signals"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kubebox kube-apiserver|kube-controller-manager|kube-scheduler|kubectl|kwok [flags] | kwok-stages")
		os.Exit(2)
	}
	var cmd *cobra.Command
	switch os.Args[1] {
	case "kube-apiserver":
		cmd = apiserver.NewAPIServerCommand()
	case "kube-controller-manager":
		cmd = controllermanager.NewControllerManagerCommand()
	case "kube-scheduler":
		cmd = scheduler.NewSchedulerCommand()
	case "kubectl":
		cmd = kubectlcmd.NewDefaultKubectlCommand()
	case "kwok":
		os.Exit(runKwok(os.Args[2:]))
	case "kwok-stages":
		stages, err := kwokStages()
		if err != nil {
			fmt.Fprintln(os.Stderr, "kubebox:", err)
			os.Exit(1)
		}
		fmt.Print(stages)
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "kubebox: unknown program %q\n", os.Args[1])
		os.Exit(2)
	}
	cmd.SetArgs(os.Args[2:])
	os.Exit(cli.Run(cmd))
}

// runKwok is kwok's own main (cmd/kwok in sigs.k8s.io/kwok): its global flags (--config, -v)
// live in a flag set of their own that its command inherits.
func runKwok(args []string) int {
	flagset := pflag.NewFlagSet("global", pflag.ContinueOnError)
	flagset.ParseErrorsAllowlist.UnknownFlags = true
	flagset.Usage = func() {}
	flagset.SetOutput(os.Stderr)
	os.Args = append([]string{"kwok"}, args...)
	// cobra adds pflag.CommandLine to every root command; k8s.io/component-base put its own
	// --version there (not a bool), which kwok's cobra command refuses. kwok needs none of them.
	pflag.CommandLine = pflag.NewFlagSet("kwok", pflag.ExitOnError)

	ctx := signals.SetupSignalContext()
	ctx, logger := kwoklog.InitFlags(ctx, flagset)
	ctx, err := kwokconfig.InitFlags(ctx, flagset)
	if err != nil {
		logger.Error("Init config flags", "err", err)
		return 1
	}
	command := kwokcmd.NewCommand(ctx)
	command.PersistentFlags().AddFlagSet(flagset)
	command.SetArgs(args)
	if err := command.ExecuteContext(ctx); err != nil {
		logger.Error("Execute exit", "err", err)
		return 1
	}
	return 0
}
