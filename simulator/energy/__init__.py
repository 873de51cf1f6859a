"""Energy and area of the simulated accelerator: technology tables, their scaling, and costs."""
