package sqlaudit

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// RegisterMetrics publishes the process's counters (ProcessStats) through
// an OpenTelemetry meter, as observable counters read when the meter's
// reader collects: sqlaudit.writes with the attribute outcome (audited,
// refused, warned) and sqlaudit.writes.without_actor. Only the metrics API
// is used: the application chooses the SDK and the exporter. Unregister
// the returned registration to stop.
func RegisterMetrics(meter metric.Meter) (metric.Registration, error) {
	writes, err := meter.Int64ObservableCounter("sqlaudit.writes",
		metric.WithDescription("writes the audit driver saw, by outcome: audited (run with their records), refused, warned (run unaudited under the warn policy)"),
		metric.WithUnit("{write}"))
	if err != nil {
		return nil, err
	}
	noActor, err := meter.Int64ObservableCounter("sqlaudit.writes.without_actor",
		metric.WithDescription("audited writes whose context had no actor (sqlaudit.WithActor): their records' actor is NULL"),
		metric.WithUnit("{write}"))
	if err != nil {
		return nil, err
	}
	outcome := func(v string) metric.ObserveOption { return metric.WithAttributes(attribute.String("outcome", v)) }
	return meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := ProcessStats()
		o.ObserveInt64(writes, s.Audited, outcome("audited"))
		o.ObserveInt64(writes, s.Refused, outcome("refused"))
		o.ObserveInt64(writes, s.Warned, outcome("warned"))
		o.ObserveInt64(noActor, s.WithoutActor)
		return nil
	}, writes, noActor)
}
