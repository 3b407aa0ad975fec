DROP TABLE maintenance_texts;
DROP TABLE maintenances;
