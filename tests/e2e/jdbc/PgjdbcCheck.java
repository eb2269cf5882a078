// pgjdbc against cuvee's Postgres door, run by tests/e2e/test_postgres.py as a single-file
// program (`java -cp postgresql.jar PgjdbcCheck.java URL`). prepareThreshold=1 makes the
// driver switch to server-side prepared statements and binary results from the first
// execution. Prints one JSON object per line for the Python test to compare.
import java.sql.*;

public class PgjdbcCheck {
    public static void main(String[] args) throws Exception {
        String url = args[0];
        try (Connection conn = DriverManager.getConnection(url, "postgres", "")) {
            DatabaseMetaData meta = conn.getMetaData();
            System.out.println("{\"product\": \"" + meta.getDatabaseProductName() + "\", \"version\": \"" + meta.getDatabaseProductVersion() + "\"}");
            // What Metabase's and DBeaver's sync ask: tables, then columns.
            try (ResultSet tables = meta.getTables(null, "public", "%", new String[] {"TABLE"})) {
                StringBuilder names = new StringBuilder();
                while (tables.next()) names.append(names.length() == 0 ? "" : ",").append('"').append(tables.getString("TABLE_NAME")).append('"');
                System.out.println("{\"tables\": [" + names + "]}");
            }
            try (ResultSet columns = meta.getColumns(null, "public", "baseballStats", "%")) {
                int count = 0;
                String first = null;
                while (columns.next()) {
                    if (first == null) first = columns.getString("COLUMN_NAME") + ":" + columns.getString("TYPE_NAME");
                    count++;
                }
                System.out.println("{\"columns\": " + count + ", \"first\": \"" + first + "\"}");
            }
            String sql = "SELECT \"teamID\", SUM(\"homeRuns\") AS hr, MAX(\"yearID\") AS last_year FROM \"baseballStats\" WHERE \"yearID\" >= ? AND league = ? GROUP BY \"teamID\" ORDER BY hr DESC LIMIT 3";
            try (PreparedStatement statement = conn.prepareStatement(sql)) {
                for (int run = 0; run < 3; run++) {
                    statement.setInt(1, 2000);
                    statement.setString(2, "AL");
                    StringBuilder rows = new StringBuilder();
                    try (ResultSet rs = statement.executeQuery()) {
                        while (rs.next()) {
                            rows.append(rows.length() == 0 ? "" : ",").append("[\"").append(rs.getString(1)).append("\",").append(rs.getLong(2)).append(',').append(rs.getInt(3)).append(']');
                        }
                    }
                    System.out.println("{\"run\": " + run + ", \"rows\": [" + rows + "]}");
                }
            }
            try (Statement statement = conn.createStatement()) {
                statement.executeQuery("SELECT * FROM no_such_table");
            } catch (SQLException e) {
                System.out.println("{\"sqlstate\": \"" + e.getSQLState() + "\"}");
            }
        }
    }
}
