package eventbus_test

import (
	"fmt"

	"github.com/meshbus/meshbus/eventbus"
)

// EvtTemperature is an event type of the example: any struct will do.
type EvtTemperature struct {
	Room    string
	Celsius float64
}

// A typed emitter and subscriber on one bus; the subscriber chooses its
// backpressure policy (Drop: a slow reader never slows the emitter).
func Example() {
	bus := eventbus.New()
	defer bus.Close()
	sub, err := eventbus.Subscribe[EvtTemperature](bus,
		eventbus.Name("thermostat"), eventbus.BufSize(8), eventbus.WithPolicy(eventbus.Drop))
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	em, err := eventbus.NewEmitter[EvtTemperature](bus)
	if err != nil {
		panic(err)
	}
	defer em.Close()
	_ = em.Emit(EvtTemperature{Room: "kitchen", Celsius: 21.5})
	_ = em.Emit(EvtTemperature{Room: "hall", Celsius: 18})
	for range 2 {
		e := <-sub.Out()
		fmt.Printf("%s: %.1f°C\n", e.Room, e.Celsius)
	}
	// Output:
	// kitchen: 21.5°C
	// hall: 18.0°C
}
