package main

import (
	"github.com/ibdash/ibdash/config"
	"github.com/ibdash/ibdash/ibclient/ibsim"
)

// loadConfig returns the config the commands run with. With --demo it
// starts the simulator in-process on 127.0.0.1 and returns a config that
// reaches it, and close stops the simulator. Otherwise it reads the
// config file.
func (env *environment) loadConfig() (cfg *config.Config, close func(), err error) {
	if env.demo {
		demo, err := ibsim.StartDemo(ibsim.DefaultDemoDir(), ibsim.Options{Logger: env.logger.With("component", "ibsim")})
		if err != nil {
			return nil, nil, err
		}
		return demo.Config, func() { demo.Close() }, nil
	}
	cfg, err = config.Load(config.DefaultPath(env.configPath))
	if err != nil {
		return nil, nil, err
	}
	return cfg, func() {}, nil
}
