package bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.avro.Conversions;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;
import java.nio.charset.StandardCharsets;

/**
 * The same job as streamscore, as a competent Java user would write it with what Maven
 * Central has (Confluent's serdes live in Confluent's own repository): Kafka's clients with a
 * transactional producer and KIP-447 offsets, Apache Avro with writer schemas fetched from the
 * registry by id, and ONNX Runtime on each polled batch.
 */
public final class Peer {
  private static final String[] CHANNELS = {"POS", "ECOM", "ATM", "MOTO"};
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = new HashMap<>();
    for (int i = 0; i + 1 < argv.length; i += 2) a.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
    String registry = a.get("registry");
    long expect = Long.parseLong(a.get("expect"));
    double threshold = Double.parseDouble(a.getOrDefault("threshold", "0.342336"));
    GenericData data = new GenericData();
    data.addLogicalTypeConversion(new Conversions.DecimalConversion());
    Schema reader = new Schema.Parser().parse(Files.readString(Path.of(a.get("schemas"), "card-transaction.avsc")));
    Schema scoredSchema = new Schema.Parser().parse(Files.readString(Path.of(a.get("schemas"), "scored-transaction.avsc")));
    Schema alertSchema = new Schema.Parser().parse(Files.readString(Path.of(a.get("schemas"), "fraud-alert.avsc")));
    byte[] scoredHeader = header(register(registry, a.get("scored") + "-value", scoredSchema));
    byte[] alertHeader = header(register(registry, a.get("alerts") + "-value", alertSchema));
    GenericDatumWriter<GenericRecord> scoredWriter = new GenericDatumWriter<>(scoredSchema, data);
    GenericDatumWriter<GenericRecord> alertWriter = new GenericDatumWriter<>(alertSchema, data);
    Map<Integer, GenericDatumReader<GenericRecord>> readers = new HashMap<>();

    OrtEnvironment env = OrtEnvironment.getEnvironment();
    OrtSession.SessionOptions options = new OrtSession.SessionOptions();
    options.setIntraOpNumThreads(1);
    options.setInterOpNumThreads(1);
    OrtSession session = env.createSession(a.get("model"), options);

    Properties cp = new Properties();
    cp.put("bootstrap.servers", a.get("brokers"));
    cp.put("group.id", a.get("group"));
    cp.put("enable.auto.commit", "false");
    cp.put("isolation.level", "read_committed");
    cp.put("auto.offset.reset", "earliest");
    cp.put("max.poll.records", "1000");
    cp.put("key.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
    cp.put("value.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
    Properties pp = new Properties();
    pp.put("bootstrap.servers", a.get("brokers"));
    pp.put("transactional.id", a.get("group") + "-peer");
    pp.put("linger.ms", "5");
    // The default 100 ms is how long the next transaction's AddPartitionsToTxn waits after the
    // coordinator, still writing the last one's markers, answers CONCURRENT_TRANSACTIONS: it put
    // p50 at 2,000/s over 100 ms. streamscore retries that after 2 ms; the peer gets 10.
    pp.put("retry.backoff.ms", "10");
    pp.put("key.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer");
    pp.put("value.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer");

    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp); KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp)) {
      producer.initTransactions();
      consumer.subscribe(List.of(a.get("input")));
      long done = 0;
      long started = 0;
      // --expect 0: run until stopped (the bench's latency runs).
      while (expect == 0 || done < expect) {
        ConsumerRecords<byte[], byte[]> polled = consumer.poll(Duration.ofMillis(500));
        if (polled.isEmpty()) continue;
        if (started == 0) started = System.nanoTime();
        int n = polled.count();
        float[] features = new float[n * 10];
        List<GenericRecord> events = new ArrayList<>(n);
        List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>(n);
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        int row = 0;
        for (ConsumerRecord<byte[], byte[]> r : polled) {
          ByteBuffer wire = ByteBuffer.wrap(r.value());
          if (wire.get() != 0) throw new IllegalStateException("not Confluent wire format at " + r.offset());
          int id = wire.getInt();
          GenericDatumReader<GenericRecord> datumReader = readers.computeIfAbsent(id, k -> new GenericDatumReader<>(writerSchema(registry, k), reader, data));
          GenericRecord e = datumReader.read(null, DecoderFactory.get().binaryDecoder(r.value(), 5, r.value().length - 5, null));
          long eventTime = (Long) e.get("eventTime");
          float[] f = {((java.math.BigDecimal) e.get("amount")).floatValue(), (eventTime / 3_600_000L) % 24, (Integer) e.get("merchantCategory"),
              java.util.Arrays.asList(CHANNELS).indexOf(e.get("channel").toString()), ((Double) e.get("distanceFromHomeKm")).floatValue(),
              (Integer) e.get("txCount1h"), (Integer) e.get("txCount24h"), ((Double) e.get("amountToAvgRatio")).floatValue(),
              (Boolean) e.get("foreignCountry") ? 1f : 0f, (Boolean) e.get("knownDevice") ? 1f : 0f};
          System.arraycopy(f, 0, features, row * 10, 10);
          row++;
          events.add(e);
          records.add(r);
          offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
        }
        float[] scores;
        try (OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(features), new long[] {n, 10}); OrtSession.Result result = session.run(Map.of("features", t))) {
          scores = (float[]) result.get(0).getValue();
        }
        producer.beginTransaction();
        long now = System.currentTimeMillis();
        for (int i = 0; i < n; i++) {
          GenericRecord e = events.get(i);
          ConsumerRecord<byte[], byte[]> r = records.get(i);
          boolean alert = scores[i] >= threshold;
          // The input's position, as streamscore's outputs carry it: the bench's latency observer joins on it.
          RecordHeaders source = new RecordHeaders();
          source.add("streamscore-source", (r.topic() + "/" + r.partition() + "/" + r.offset()).getBytes(StandardCharsets.UTF_8));
          producer.send(new ProducerRecord<>(a.get("scored"), null, r.key(), wire(scoredHeader, scoredWriter, output(scoredSchema, e, r, scores[i], alert, threshold, now)), source));
          if (alert) {
            producer.send(new ProducerRecord<>(a.get("alerts"), null, r.key(), wire(alertHeader, alertWriter, output(alertSchema, e, r, scores[i], true, threshold, now)), source));
          }
        }
        producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
        producer.commitTransaction();
        done += n;
      }
      double seconds = (System.nanoTime() - started) / 1e9;
      System.out.printf("{\"processed\": %d, \"seconds\": %.2f, \"perSec\": %d}%n", done, seconds, Math.round(done / seconds));
    }
  }

  private static GenericRecord output(Schema schema, GenericRecord e, ConsumerRecord<byte[], byte[]> r, float score, boolean alert, double threshold, long now) {
    GenericRecord out = new GenericData.Record(schema);
    for (Schema.Field f : schema.getFields()) {
      if (e.getSchema().getField(f.name()) != null) out.put(f.name(), e.get(f.name()));
    }
    out.put("score", (double) score);
    out.put("alert", alert);
    out.put("threshold", threshold);
    GenericRecord model = new GenericData.Record(schema.getField("model").schema());
    model.put("name", "fraud-gbdt");
    model.put("version", "1.0.0");
    out.put("model", model);
    GenericRecord source = new GenericData.Record(schema.getField("source").schema());
    source.put("topic", r.topic());
    source.put("partition", r.partition());
    source.put("offset", r.offset());
    out.put("source", source);
    out.put("scoredAt", now);
    return out;
  }

  /** Confluent wire format: magic byte, schema id, Avro body. */
  private static byte[] wire(byte[] header, GenericDatumWriter<GenericRecord> writer, GenericRecord record) throws java.io.IOException {
    ByteArrayOutputStream buffer = new ByteArrayOutputStream(256);
    buffer.write(header);
    BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(buffer, null);
    writer.write(record, encoder);
    encoder.flush();
    return buffer.toByteArray();
  }

  private static byte[] header(int id) {
    return ByteBuffer.allocate(5).put((byte) 0).putInt(id).array();
  }

  private static int register(String registry, String subject, Schema schema) throws Exception {
    String body = JSON.writeValueAsString(Map.of("schema", schema.toString()));
    HttpRequest req = HttpRequest.newBuilder(URI.create(registry + "/subjects/" + subject + "/versions"))
        .header("content-type", "application/vnd.schemaregistry.v1+json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
    HttpResponse<String> res = HTTP.send(req, HttpResponse.BodyHandlers.ofString());
    if (res.statusCode() / 100 != 2) throw new IllegalStateException("register " + subject + ": " + res.body());
    return JSON.readTree(res.body()).get("id").asInt();
  }

  private static Schema writerSchema(String registry, int id) {
    try {
      HttpResponse<String> res = HTTP.send(HttpRequest.newBuilder(URI.create(registry + "/schemas/ids/" + id)).build(), HttpResponse.BodyHandlers.ofString());
      return new Schema.Parser().parse(JSON.readTree(res.body()).get("schema").asText());
    } catch (Exception ex) {
      throw new IllegalStateException("schema " + id, ex);
    }
  }
}
