"""A Pinot REALTIME table config over one Kafka topic (JSON messages, from the earliest
offset), as the realtime tests and benches post it."""


def realtime_table(name, bootstrap, *, flush_rows, inverted=(), sorted_column=None):
    index = {"invertedIndexColumns": list(inverted)}
    if sorted_column:
        index["sortedColumn"] = [sorted_column]
    index["streamConfigs"] = {
        "streamType": "kafka",
        "stream.kafka.topic.name": name,
        "stream.kafka.broker.list": bootstrap,
        "stream.kafka.consumer.type": "lowlevel",
        "stream.kafka.decoder.class.name": "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder",
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
        "realtime.segment.flush.threshold.rows": str(flush_rows),
    }
    return {
        "tableName": name,
        "tableType": "REALTIME",
        "segmentsConfig": {"timeColumnName": "ts", "schemaName": name, "replication": "1"},
        "tableIndexConfig": index,
        "tenants": {},
        "metadata": {},
    }
